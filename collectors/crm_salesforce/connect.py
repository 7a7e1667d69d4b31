"""How the `salesforce` connector signs in: OAuth 2.0 client credentials or a JWT bearer
assertion (`collectors.auth`), the token refreshed once on a 401."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from collectors import auth
from collectors.base import Collector
from collectors.crm_salesforce.streams import collector
from collectors.http import BearerAuth
from collectors.spec import Context, MissingSecret, Options, missing

#: Options only used to connect: name → (type, default).
CONNECTION: dict[str, tuple[Any, Any]] = {
    "auth": (Literal["client_credentials", "jwt_bearer"], "client_credentials"),
    "client_id": (str | None, None),
    "token_url": (str | None, None),
    "username": (str | None, None),
    "audience": (str, "https://login.salesforce.com"),
    "private_key_file": (str | None, None),
}


def secrets(options: Options) -> Sequence[str]:
    """The secrets the chosen flow needs (a key file stands in for the private key)."""
    if options.get("auth", "client_credentials") == "jwt_bearer":
        return [] if options.get("private_key_file") else ["salesforce_private_key"]
    return ["salesforce_client_secret"]


def build(c: Context) -> Collector:
    """The org's collector, signed in by the flow its options choose."""
    url, o = c.base_url(), c.options
    config = c.config(instance_url=url)
    absent = missing(c.settings, secrets(o))
    if absent:
        return collector(c.name, config, MissingSecret(c.name, absent), transport=c.transport)
    client_id = o["client_id"] or c.secret("salesforce_client_id")
    if not client_id:
        raise c.error(
            "client_id",
            "is required: the connected app's consumer key (or set"
            " THROUGHLINE_SECRETS__SALESFORCE_CLIENT_ID)",
        )
    grant: auth.Grant
    if o["auth"] == "jwt_bearer":
        if not o["username"]:
            raise c.error("username", "is required with auth: jwt_bearer (the user to act as)")
        grant = auth.JwtBearerGrant(client_id, o["username"], _private_key(c), o["audience"])
        token_url = o["token_url"] or f"{o['audience'].rstrip('/')}/services/oauth2/token"
    else:
        grant = auth.ClientCredentialsGrant(client_id, c.secret("salesforce_client_secret") or "")
        token_url = o["token_url"] or f"{url.rstrip('/')}/services/oauth2/token"
    provider = auth.OAuthTokenProvider(token_url, grant, transport=c.transport)
    credentials = BearerAuth(provider.token, refresh=provider.refresh)
    return collector(c.name, config, credentials, transport=c.transport)


def _private_key(c: Context) -> str:
    path = c.options["private_key_file"]
    if not path:
        return c.secret("salesforce_private_key") or ""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise c.error("private_key_file", f"{path} cannot be read ({reason})") from None
