"""Passwords inside URLs: found, masked, and the places they may come from.

A URL carries a password in its user-info (`scheme://user:pw@host/…`) or in a query parameter
named like one or like another secret (`?password=…`, `pass=`, `passwd=`, `pwd=`, and names
ending in `secret`, `token` or `api_key`/`apikey`, any case). `throughline config` shows such
URLs masked; a settings file may not hold one (the environment may).
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"
_QUERY_PASSWORD = re.compile(
    r"([?&;][\w.\-]*?(?:password|passwd|pass|pwd|secret|token|api_?key)=)([^&;#]*)", re.IGNORECASE
)


def _split_userinfo(url: str) -> tuple[str, str, str, str] | None:
    """(`scheme://`, user, password, `@host…`) when the URL has user-info with a colon.

    The user-info ends at the last "@" before the query: a password may hold "@" or "/"
    (masking too much is safe, too little is not); a user name never holds "/"."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return None
    head = re.split(r"[?#]", rest, maxsplit=1)[0]
    creds, at, _host = head.rpartition("@")
    user, colon, password = creds.partition(":")
    if not at or not colon or "/" in user:
        return None
    return f"{scheme}://", user, password, rest[len(creds) :]


def has_password(url: str) -> bool:
    """Whether `url` carries a (non-empty) password in its user-info or its query."""
    parts = _split_userinfo(url)
    if parts is not None and parts[2]:
        return True
    return any(m.group(2) for m in _QUERY_PASSWORD.finditer(url))


def mask_url_password(url: str) -> str:
    """`postgresql://user:pw@host/db?password=x` → `postgresql://user:***@host/db?password=***`."""
    parts = _split_userinfo(url)
    if parts is not None:
        scheme, user, _password, rest = parts
        url = f"{scheme}{user}:{MASK}{rest}"
    return _QUERY_PASSWORD.sub(lambda m: m.group(1) + (MASK if m.group(2) else ""), url)


def mask_urls(data: Any) -> Any:
    """`data` (plain JSON-like values) with the password of every URL string in it masked."""
    if isinstance(data, str):
        return mask_url_password(data) if "://" in data or "=" in data else data
    if isinstance(data, dict):
        return {key: mask_urls(value) for key, value in data.items()}
    if isinstance(data, list):
        return [mask_urls(value) for value in data]
    return data


def password_keys(data: Any, where: str = "") -> list[str]:
    """The dotted keys of `data` whose string value is a URL with a password in it."""
    if isinstance(data, str):
        return [where] if has_password(data) else []
    if isinstance(data, dict):
        return [
            k
            for key, value in data.items()
            for k in password_keys(value, f"{where}.{key}" if where else str(key))
        ]
    if isinstance(data, list):
        return [k for i, value in enumerate(data) for k in password_keys(value, f"{where}[{i}]")]
    return []
