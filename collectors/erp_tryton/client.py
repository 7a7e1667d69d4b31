"""Tryton's JSON-RPC: typed values, session login and re-login, application errors.

Protocol (trytond 8.2, `trytond/protocols/dispatcher.py` and `jsonrpc.py`): every call is
`POST /<database>/rpc/` with `{"id": n, "method": "model.<name>.<method>", "params": [...]}`.
`common.db.login(login, {"password": …}, language)` answers `[user_id, session, bus_url]`;
later calls carry `Authorization: Session base64("<login>:<user_id>:<session>")`. A session
that expired or was ended answers HTTP 401 (so does a refused login); a login rate limit answers
429. Application errors come back as HTTP 200 with an `error` member (the exception's
arguments; a missing model or field is a bare `KeyError`, e.g. `["'sale.opportunity'", ""]`).
Typed values travel as objects with `__class__` (datetime, date, time, timedelta, Decimal,
bytes); Tryton's datetimes are naive UTC.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import httpx

from collectors.errors import AuthFailed, RequestRejected, SchemaDrift
from collectors.http import BearerAuth, json_body, make_client, raise_for_source_status

Domain = Sequence[Any]


class TrytonError(RequestRejected):
    """Tryton answered a call with an application error (HTTP 200 and an `error` member)."""

    def __init__(self, method: str, detail: str) -> None:
        super().__init__(f"Tryton refused {method}: {detail}", status=200, excerpt=detail)
        self.method = method
        self.detail = detail


class TrytonModelMissing(SchemaDrift):
    """A model or field the connector reads does not exist on this Tryton server."""


def _decode(obj: dict[str, Any]) -> Any:
    """`json.loads` object hook: Tryton's `__class__` objects to Python values.

    A value that cannot be decoded (February 30th, an hour of 25) stays the object it was, for
    the mapper to refuse with the field's name."""
    try:
        return _decoded(obj)
    except (KeyError, TypeError, ValueError, OverflowError, ArithmeticError):
        return obj


def _decoded(obj: dict[str, Any]) -> Any:
    kind = obj.get("__class__")
    if kind is None:
        return obj
    if kind == "datetime":
        return datetime(
            obj["year"],
            obj["month"],
            obj["day"],
            obj["hour"],
            obj["minute"],
            obj["second"],
            obj.get("microsecond", 0),
            tzinfo=UTC,
        )
    if kind == "date":
        return date(obj["year"], obj["month"], obj["day"])
    if kind == "time":
        return time(obj["hour"], obj["minute"], obj["second"], obj.get("microsecond", 0))
    if kind == "timedelta":
        return timedelta(seconds=obj["seconds"])
    if kind == "Decimal":
        return Decimal(obj["decimal"])
    if kind == "bytes":
        return base64.b64decode(obj["base64"])
    return obj


def decode(text: str | bytes) -> Any:
    """Parse a Tryton JSON-RPC body, decoding typed values (datetimes become aware UTC)."""
    return json.loads(text, object_hook=_decode)


def encode(value: Any) -> Any:
    """A value as Tryton's JSON-RPC expects it (aware datetimes are sent as naive UTC)."""
    if isinstance(value, datetime):
        at = value.astimezone(UTC) if value.tzinfo else value
        return {
            "__class__": "datetime",
            "year": at.year,
            "month": at.month,
            "day": at.day,
            "hour": at.hour,
            "minute": at.minute,
            "second": at.second,
            "microsecond": at.microsecond,
        }
    if isinstance(value, date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    if isinstance(value, timedelta):
        return {"__class__": "timedelta", "seconds": value.total_seconds()}
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    return value


_ids = itertools.count(1)


def _error_text(error: Any) -> str:
    """One line from Tryton's `error`: `[name, [message, description, …]]` for its own
    exceptions (UserError, AccessError, …), `[str(exception), traceback]` for the others."""
    if isinstance(error, list | tuple) and len(error) >= 2 and isinstance(error[1], list | tuple):
        args = [str(a).strip() for a in error[1] if isinstance(a, str) and a.strip()]
        return f"{error[0]}: {' — '.join(args)}"[:300] if args else str(error[0])[:300]
    parts = error if isinstance(error, list | tuple) else [error]
    first = next((str(p).strip() for p in parts if isinstance(p, str) and p.strip()), "")
    return first[:300] or "(no message)"


def call_body(method: str, params: Sequence[Any], ident: int | None = None) -> dict[str, Any]:
    """The JSON body of one call (typed values encoded)."""
    return {
        "id": next(_ids) if ident is None else ident,
        "method": method,
        "params": encode(list(params)),
    }


def decode_value(value: Any) -> Any:
    """Decode the typed values inside already parsed JSON (what `decode` does while parsing)."""
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    if isinstance(value, dict):
        return _decode({k: decode_value(v) for k, v in value.items()})
    return value


def result_of(method: str, payload: Any) -> Any:
    """The `result` of a decoded answer; `TrytonError` / `TrytonModelMissing` for an `error`."""
    if not isinstance(payload, dict):
        raise SchemaDrift(f"Tryton answered {method} with {type(payload).__name__}, not an object")
    if payload.get("error") is not None:
        detail = _error_text(payload["error"])
        missing = detail.strip("'\"")
        if detail.startswith("'") and detail.endswith("'") and " " not in missing:
            raise TrytonModelMissing(
                f"Tryton has no {missing!r} for {method} (KeyError): is the module that "
                "provides it activated, and is the field name right?"
            )
        raise TrytonError(method, detail)
    if "result" not in payload:
        raise SchemaDrift(f"Tryton's answer to {method} has neither 'result' nor 'error'")
    return payload["result"]


def rpc(client: httpx.Client, method: str, params: Sequence[Any]) -> Any:
    """Call `method` and return its result; collector errors for HTTP and application errors."""
    response = client.post("rpc/", json=call_body(method, params))
    raise_for_source_status(response)
    try:
        payload = decode(response.content)
    except (ValueError, RecursionError):  # salvaged (see `collectors.salvage`) or SchemaDrift
        payload = decode_value(json_body(response))
    return result_of(method, payload)


def records_of(model: str, result: Any) -> list[dict[str, Any]]:
    """A `search_read` result, checked to be a list of records."""
    if not isinstance(result, list) or not all(isinstance(r, dict) for r in result):
        raise SchemaDrift(f"{model}.search_read did not return a list of records")
    return result


def search_read_params(
    domain: Domain,
    fields: Sequence[str],
    *,
    order: Sequence[tuple[str, str]] | None = None,
    limit: int | None = None,
    offset: int = 0,
    context: Mapping[str, Any] | None = None,
) -> list[Any]:
    """`search_read`'s positional parameters: domain, offset, limit, order, fields, context."""
    return [
        list(domain),
        offset,
        limit,
        [list(o) for o in order] if order else None,
        list(fields),
        dict(context or {}),
    ]


def search_read(
    client: httpx.Client,
    model: str,
    domain: Domain,
    fields: Sequence[str],
    *,
    order: Sequence[tuple[str, str]] | None = None,
    limit: int | None = None,
    offset: int = 0,
    context: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """`model.<model>.search_read(domain, offset, limit, order, fields_names, context)`."""
    params = search_read_params(
        domain, fields, order=order, limit=limit, offset=offset, context=context
    )
    return records_of(model, rpc(client, f"model.{model}.search_read", params))


@dataclass
class TrytonSession:
    """Logs in with a login and password and keeps the session; logs in again on request.

    `token()` is the `Authorization: Session …` value (logging in on first use); `refresh()`
    logs in again (after a 401, see `auth()`). A refused login is remembered and raised again
    without asking the server: Tryton slows every login down after failed attempts and answers
    429 past `[session] max_attempt`, so the other streams must not keep trying. The password
    is never logged or shown.
    """

    base_url: str
    login: str
    password: str
    language: str = "en"
    transport: httpx.BaseTransport | None = None
    timeout: httpx.Timeout | float = 30.0
    logins: int = field(default=0, init=False)
    _token: str | None = field(default=None, init=False, repr=False)
    _refused: AuthFailed | None = field(default=None, init=False, repr=False)

    def __repr__(self) -> str:
        return f"TrytonSession(base_url={self.base_url!r}, login={self.login!r}, password=***)"

    def token(self) -> str:
        """The current session's credential, logging in when there is none yet."""
        return self._token if self._token is not None else self.refresh()

    def refresh(self) -> str:
        """Log in (again) and return the new session's credential."""
        if self._refused is not None:
            raise AuthFailed(str(self._refused), status=self._refused.status)
        with make_client(self.base_url, None, transport=self.transport, timeout=self.timeout) as c:
            try:
                result = rpc(
                    c, "common.db.login", [self.login, {"password": self.password}, self.language]
                )
            except AuthFailed as exc:
                self._refused = AuthFailed(
                    f"Tryton at {self.base_url} refused the login of {self.login!r}: check the"
                    " login, the password and that the database name in the URL is right",
                    status=exc.status,
                )
                raise self._refused from exc
        if not (isinstance(result, list) and len(result) >= 2):
            raise SchemaDrift("common.db.login did not answer [user_id, session]")
        user_id, session = result[0], result[1]
        raw = f"{self.login}:{user_id}:{session}".encode()
        self._token = base64.b64encode(raw).decode("ascii")
        self.logins += 1
        return self._token

    def auth(self) -> httpx.Auth:
        """`Authorization: Session …` on every call; a 401 logs in again once and retries."""
        return BearerAuth(self.token, refresh=self.refresh, scheme="Session")
