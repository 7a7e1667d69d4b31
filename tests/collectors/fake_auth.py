"""The credential checks of the generic fake API, one per kind a `fixtures.yaml` may declare.

``bearer``: a fixed token (``token``). ``header``: an API key in a header (``header``,
``api_key``). ``oauth2``: bearer tokens the fake issues at ``token_path`` for the client
credentials grant or a JWT bearer assertion checked with ``public_key`` (PEM, given when the fake
is made); ``expire_next_token_use`` refuses the next use of a token once (a session that
expired); ``token_requests`` holds the forms sent. ``oauth1``: NetSuite's token-based
authentication, each request's HMAC-SHA256 signature recomputed and its nonce never reused.
``session``: a JSON-RPC login (``login_method``) with ``password`` answered as recorded, later
calls carrying ``Authorization: Session …``. Settings given when the fake is made override the
declared ones; each is an attribute of the check (``fake.auth.token``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx

from collectors.auth import hmac_sha256_signature, signature_base_string

Answer = Callable[..., httpx.Response]


class Check:
    """A credential check: `special` answers requests outside the API (a token endpoint, a
    login), `authorized` says whether an API request may be answered."""

    def __init__(self, settings: dict[str, Any], answer: Answer, directory: Path) -> None:
        self.answer, self.directory = answer, directory
        for name, value in settings.items():
            setattr(self, name, value)

    def special(self, request: httpx.Request) -> httpx.Response | None:
        return None

    def authorized(self, request: httpx.Request) -> bool:
        raise NotImplementedError

    def recorded(self, name: str) -> Any:
        """A recorded answer of the fixture directory, parsed."""
        return json.loads((Path(self.directory) / name).read_text(encoding="utf-8"))


class Bearer(Check):
    token: str

    def authorized(self, request: httpx.Request) -> bool:
        return bool(request.headers.get("Authorization") == f"Bearer {self.token}")


class Header(Check):
    header: str
    api_key: str

    def authorized(self, request: httpx.Request) -> bool:
        return bool(request.headers.get(self.header) == self.api_key)


class OAuth2(Check):
    token_path: str
    client_id: str
    client_secret: str
    username: str
    audience: str
    client_credentials: str
    jwt_bearer: str
    refused: str
    public_key: str | None = None

    def __init__(self, settings: dict[str, Any], answer: Answer, directory: Path) -> None:
        super().__init__(settings, answer, directory)
        self.issued: list[str] = []
        self.token_requests: list[dict[str, str]] = []
        self.expire_next_token_use = False

    def special(self, request: httpx.Request) -> httpx.Response | None:
        if request.url.path != self.token_path:
            return None
        form = dict(parse_qsl(request.content.decode()))
        self.token_requests.append(form)
        ok = False
        if form.get("grant_type") == "client_credentials":
            ok = (form.get("client_id"), form.get("client_secret")) == (
                self.client_id,
                self.client_secret,
            )
            body = self.recorded(self.client_credentials)
        elif form.get("grant_type") == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            ok = self._valid_assertion(form.get("assertion", ""))
            body = self.recorded(self.jwt_bearer)
        if not ok:
            return httpx.Response(400, json=self.recorded(self.refused))
        token = f"{body['access_token']}.{len(self.issued) + 1}"
        self.issued.append(token)
        return httpx.Response(200, json={**body, "access_token": token})

    def _valid_assertion(self, assertion: str) -> bool:
        import jwt

        if self.public_key is None:
            return False
        try:
            claims = jwt.decode(
                assertion, self.public_key, algorithms=["RS256"], audience=self.audience
            )
        except jwt.PyJWTError:
            return False
        return claims.get("iss") == self.client_id and claims.get("sub") == self.username

    def authorized(self, request: httpx.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or token not in self.issued:
            return False
        if self.expire_next_token_use:  # the session expired: this token is no longer valid
            self.expire_next_token_use = False
            self.issued.remove(token)
            return False
        return True


class OAuth1(Check):
    realm: str
    consumer_key: str
    consumer_secret: str
    token_id: str
    token_secret: str

    def __init__(self, settings: dict[str, Any], answer: Answer, directory: Path) -> None:
        super().__init__(settings, answer, directory)
        self.nonces: set[str] = set()

    def authorized(self, request: httpx.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("OAuth "):
            return False
        params = {k: unquote(v) for k, v in re.findall(r'(\w+)="([^"]*)"', header)}
        if (params.get("realm"), params.get("oauth_consumer_key"), params.get("oauth_token")) != (
            self.realm,
            self.consumer_key,
            self.token_id,
        ) or params.get("oauth_signature_method") != "HMAC-SHA256":
            return False
        if params["oauth_nonce"] in self.nonces:  # a replayed nonce is refused
            return False
        self.nonces.add(params["oauth_nonce"])
        base = signature_base_string(request.method, request.url, params)
        expected = hmac_sha256_signature(base, self.consumer_secret, self.token_secret)
        return params.get("oauth_signature") == expected


class Session(Check):
    login_method: str
    password: str

    def special(self, request: httpx.Request) -> httpx.Response | None:
        try:
            call = json.loads(request.content)
        except ValueError:
            return None
        if not isinstance(call, dict) or call.get("method") != self.login_method:
            return None
        if call["params"][1].get("password") != self.password:
            return httpx.Response(401)
        return httpx.Response(200, json={"id": call["id"], "result": [1, "session", None]})

    def authorized(self, request: httpx.Request) -> bool:
        return bool(request.headers.get("Authorization", "").startswith("Session "))


KINDS: dict[str, type[Check]] = {
    "bearer": Bearer,
    "header": Header,
    "oauth2": OAuth2,
    "oauth1": OAuth1,
    "session": Session,
}


def make_auth(
    declared: dict[str, Any], given: dict[str, Any], answer: Answer, directory: Path
) -> Check:
    """The check a `fixtures.yaml` declares, with the settings `given` instead of its own."""
    settings = {k: v for k, v in declared.items() if k != "kind"} | given
    return KINDS[declared["kind"]](settings, answer, directory)
