"""Credentials for the real sources: OAuth 2.0 token providers and NetSuite's OAuth 1.0a signing.

* ``OAuthTokenProvider`` fetches and caches an access token from an OAuth 2.0 token endpoint
  with one of two grants, and refreshes it on demand; plug it into ``BearerAuth(provider.token,
  refresh=provider.refresh)`` so a 401 fetches a new token once and sends the request again.

  - ``ClientCredentialsGrant``: Salesforce's client-credentials flow for server-to-server
    integration (``grant_type=client_credentials`` with the connected app's key and secret),
    https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_client_credentials_flow.htm
  - ``JwtBearerGrant``: Salesforce's OAuth 2.0 JWT bearer flow
    (``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer``, an RS256 assertion with
    ``iss`` = consumer key, ``sub`` = user name, ``aud`` = login URL, ``exp`` ≤ 3 minutes),
    https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_jwt_flow.htm

* ``NetSuiteTokenAuth`` signs every request with token-based authentication (OAuth 1.0a,
  RFC 5849, HMAC-SHA256; NetSuite ended HMAC-SHA1 in 2023.1):
  https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_157651396916.html

No secret is ever logged or put in an error message: token endpoint errors are reported by their
OAuth ``error`` code and description only, and the objects' ``repr`` masks what they hold.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, quote

import httpx

from collectors.errors import AuthFailed, SchemaDrift
from collectors.http import json_body, make_client, raise_for_source_status

logger = logging.getLogger("throughline.auth")

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: Salesforce accepts a JWT assertion whose `exp` is at most three minutes ahead.
JWT_LIFETIME_SECONDS = 180
#: Refresh a token that says when it expires this long before it does.
EXPIRY_MARGIN_SECONDS = 60.0


class Grant(Protocol):
    """The form fields of one OAuth 2.0 token request."""

    def form(self, now: float) -> dict[str, str]: ...


@dataclass(frozen=True, repr=False)
class ClientCredentialsGrant:
    """``grant_type=client_credentials`` with the connected app's consumer key and secret."""

    client_id: str
    client_secret: str

    def __repr__(self) -> str:
        return f"ClientCredentialsGrant(client_id={self.client_id!r}, client_secret=***)"

    def form(self, now: float) -> dict[str, str]:
        return {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }


@dataclass(frozen=True, repr=False)
class JwtBearerGrant:
    """A JWT bearer assertion signed RS256 with the private key of the connected app's certificate.

    ``audience`` is the login URL (``https://login.salesforce.com``,
    ``https://test.salesforce.com`` for sandboxes, or the My Domain URL).
    """

    client_id: str
    username: str
    private_key_pem: str
    audience: str = "https://login.salesforce.com"

    def __repr__(self) -> str:
        return (
            f"JwtBearerGrant(client_id={self.client_id!r}, username={self.username!r},"
            f" audience={self.audience!r}, private_key=***)"
        )

    def assertion(self, now: float) -> str:
        """The signed assertion (PyJWT does the RS256 signing)."""
        import jwt  # PyJWT with its `crypto` extra

        claims = {
            "iss": self.client_id,
            "sub": self.username,
            "aud": self.audience,
            "exp": int(now) + JWT_LIFETIME_SECONDS,
        }
        try:
            return jwt.encode(claims, self.private_key_pem, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise AuthFailed(
                "the JWT bearer private key cannot sign: it must be an RSA private key in PEM form"
            ) from exc

    def form(self, now: float) -> dict[str, str]:
        return {"grant_type": JWT_BEARER, "assertion": self.assertion(now)}


@dataclass(frozen=True)
class AccessToken:
    """A token from the token endpoint; ``expires_at`` (monotonic) when the endpoint said."""

    value: str = field(repr=False)
    instance_url: str | None = None
    expires_at: float | None = None


class OAuthTokenProvider:
    """Fetches a token with ``grant`` from ``token_url``, caches it, and refreshes it on demand.

    ``transport`` is the test seam (a fake token endpoint); ``clock`` returns wall-clock seconds
    (for JWT ``exp``), ``monotonic`` times the cache.
    """

    def __init__(
        self,
        token_url: str,
        grant: Grant,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token_url = token_url
        self._grant = grant
        self._transport = transport
        self._clock = clock
        self._monotonic = monotonic
        self._token: AccessToken | None = None
        self._lock = threading.Lock()
        self.fetches = 0

    def __repr__(self) -> str:
        return f"OAuthTokenProvider(token_url={self.token_url!r}, grant={self._grant!r})"

    def token(self) -> str:
        """The cached token, fetched first if there is none or it is about to expire."""
        with self._lock:
            current = self._token
            if current is None or (
                current.expires_at is not None and self._monotonic() >= current.expires_at
            ):
                current = self._token = self._fetch()
            return current.value

    def refresh(self) -> str:
        """A new token, whatever the cache holds (after the source answered 401)."""
        with self._lock:
            self._token = self._fetch()
            return self._token.value

    @property
    def instance_url(self) -> str | None:
        """The instance URL the last token response named (Salesforce sends one)."""
        return self._token.instance_url if self._token else None

    def _fetch(self) -> AccessToken:
        self.fetches += 1
        form = self._grant.form(self._clock())
        with make_client("", None, transport=self._transport) as client:
            response = client.post(self.token_url, data=form)
        if response.status_code in (400, 401):
            raise AuthFailed(_token_error(response), status=response.status_code)
        raise_for_source_status(response)
        payload = json_body(response)
        value = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(value, str) or not value:
            raise SchemaDrift(f"the token endpoint {self.token_url} sent no access_token")
        expires_in = payload.get("expires_in")
        expires_at = (
            self._monotonic() + max(float(expires_in) - EXPIRY_MARGIN_SECONDS, 0.0)
            if isinstance(expires_in, int | float | str) and str(expires_in).isdigit()
            else None
        )
        instance = payload.get("instance_url")
        logger.info("fetched an access token from %s", self.token_url)
        return AccessToken(value, instance if isinstance(instance, str) else None, expires_at)


def _token_error(response: httpx.Response) -> str:
    """``error: error_description`` of an OAuth error answer, never the request's secrets."""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    code = payload.get("error") if isinstance(payload, dict) else None
    description = payload.get("error_description") if isinstance(payload, dict) else None
    what = ": ".join(str(p)[:200] for p in (code, description) if p) or "no reason given"
    return (
        f"the token endpoint {response.request.url.copy_with(query=None)} refused the "
        f"credentials with HTTP {response.status_code} ({what})"
    )


# --- NetSuite token-based authentication (OAuth 1.0a, HMAC-SHA256) ------------------------------


def percent_encode(value: str) -> str:
    """RFC 5849 §3.6: UTF-8, every octet but the unreserved characters as uppercase %XX."""
    return quote(value.encode("utf-8"), safe="-._~")


def base_string_uri(url: httpx.URL) -> str:
    """RFC 5849 §3.4.1.2: lowercase scheme and host, default port dropped, no query."""
    scheme, host = url.scheme.lower(), (url.host or "").lower()
    port = url.port
    default = port is None or (scheme, port) in (("http", 80), ("https", 443))
    authority = host if default else f"{host}:{port}"
    return f"{scheme}://{authority}{url.raw_path.decode('ascii').split('?', 1)[0] or '/'}"


def normalized_parameters(pairs: Iterable[tuple[str, str]]) -> str:
    """RFC 5849 §3.4.1.3.2: encode, sort by name then value, join as ``n=v&…``."""
    encoded = sorted((percent_encode(n), percent_encode(v)) for n, v in pairs)
    return "&".join(f"{n}={v}" for n, v in encoded)


def signature_base_string(
    method: str,
    url: str | httpx.URL,
    oauth_params: Mapping[str, str],
    body_params: Iterable[tuple[str, str]] = (),
) -> str:
    """The signature base string of a request (query parameters are read from ``url``).

    ``body_params`` are the decoded fields of an ``application/x-www-form-urlencoded`` body;
    a JSON body is not signed. ``realm`` and ``oauth_signature`` are never part of it.
    """
    target = httpx.URL(url)
    query = parse_qsl(target.query.decode("ascii"), keep_blank_values=True)
    params = [
        *query,
        *((k, v) for k, v in oauth_params.items() if k not in ("realm", "oauth_signature")),
        *body_params,
    ]
    return "&".join(
        (
            method.upper(),
            percent_encode(base_string_uri(target)),
            percent_encode(normalized_parameters(params)),
        )
    )


def hmac_sha256_signature(base_string: str, consumer_secret: str, token_secret: str) -> str:
    """Base64 of HMAC-SHA256 over the base string, keyed ``consumer_secret&token_secret``."""
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}".encode()
    digest = hmac.new(key, base_string.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _nonce() -> str:
    return secrets.token_hex(16)


def _timestamp() -> str:
    return str(int(time.time()))


class NetSuiteTokenAuth(httpx.Auth):
    """Signs each request with NetSuite TBA: ``Authorization: OAuth realm="…", oauth_…``.

    ``account`` is the realm, the account id as NetSuite shows it (``1234567`` or
    ``1234567_SB1`` for a sandbox). ``nonce`` and ``timestamp`` are injectable for tests.
    """

    requires_request_body = True  # a form body is part of the signature

    def __init__(
        self,
        account: str,
        consumer_key: str,
        consumer_secret: str,
        token_id: str,
        token_secret: str,
        *,
        nonce: Callable[[], str] = _nonce,
        timestamp: Callable[[], str] = _timestamp,
    ) -> None:
        self.account = account
        self._consumer_key = consumer_key
        self._consumer_secret = consumer_secret
        self._token_id = token_id
        self._token_secret = token_secret
        self._nonce = nonce
        self._timestamp = timestamp

    def __repr__(self) -> str:
        return f"NetSuiteTokenAuth(account={self.account!r}, keys=***)"

    def authorization(self, method: str, url: httpx.URL, body: bytes, content_type: str) -> str:
        """The ``Authorization`` header value for one request."""
        oauth = {
            "oauth_consumer_key": self._consumer_key,
            "oauth_token": self._token_id,
            "oauth_signature_method": "HMAC-SHA256",
            "oauth_timestamp": self._timestamp(),
            "oauth_nonce": self._nonce(),
            "oauth_version": "1.0",
        }
        form: list[tuple[str, str]] = []
        if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
            form = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        base = signature_base_string(method, url, oauth, form)
        signature = hmac_sha256_signature(base, self._consumer_secret, self._token_secret)
        fields: dict[str, Any] = {"realm": self.account, **oauth, "oauth_signature": signature}
        return "OAuth " + ", ".join(f'{k}="{percent_encode(str(v))}"' for k, v in fields.items())

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self.authorization(
            request.method, request.url, request.content, request.headers.get("Content-Type", "")
        )
        yield request


def netsuite_realm(account_id: str) -> str:
    """The realm for an account id as it appears in its URL (``1234567-sb1`` → ``1234567_SB1``)."""
    return account_id.strip().upper().replace("-", "_")
