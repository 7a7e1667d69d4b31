"""Who may see what: roles, the pages each role opens, row scoping by practice, and masking.

A signed-in user's role comes from an ID-token claim mapped through ``settings.auth.roles``;
a PMO user is limited to the practices another claim names — and, without that claim, to none
(deny by default; ``auth.pmo_without_practices = "all"`` opens them). The dashboard asks
`Access.can_open` before drawing a page; every read a page makes goes through a view declared
with `metrics.views.guard.view`, which scopes it with `Access.scope` / `Access.allows` and
passes the result through `mask`, so a page and its CSV and Excel exports show the same values:
payloads, tax ids, bank details and e-mail addresses are masked for roles that need not see
them, in named fields and inside free text (on top of what is removed before storage).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

import pandas as pd
from sqlalchemy import ColumnElement, false

from foundation.settings import AuthSettings, Role
from metrics.kpis.common import Filters
from store.masking import ALL_COUNTRIES, MASK, TEXT_KINDS, mask_free_text

Sensitive = Literal["payload", "email", "tax_id", "bank"]
T = TypeVar("T")

ROLES: tuple[Role, ...] = ("cfo", "pmo", "support", "admin")
ALL_PAGES = frozenset(
    {"overview", "invoices", "handoffs", "unbilled", "sync", "trace", "slos", "collectors"}
)
#: The dashboard pages (keys of `throughline.ui.PAGES`) each role may open.
PAGES_BY_ROLE: dict[Role, frozenset[str]] = {
    "cfo": frozenset({"overview", "invoices", "unbilled", "handoffs", "trace", "slos"}),
    "pmo": frozenset({"overview", "handoffs", "trace", "slos"}),
    "support": frozenset({"overview", "sync", "trace", "slos", "collectors"}),
    "admin": ALL_PAGES | {"audit"},
}
#: What each role sees unmasked: support needs payloads to fix a failed sync; finance needs the
#: customer's tax and bank details and contacts; the PMO needs the owners' addresses.
SEES: dict[Role, frozenset[Sensitive]] = {
    "cfo": frozenset({"tax_id", "bank", "email"}),
    "pmo": frozenset({"email"}),
    "support": frozenset({"payload"}),
    "admin": frozenset({"payload", "email", "tax_id", "bank"}),
}
_KINDS: tuple[tuple[Sensitive, re.Pattern[str]], ...] = (
    ("payload", re.compile(r"^(payload|raw|raw_record|request_body|response_body)$", re.I)),
    ("email", re.compile(r"e[-_]?mail", re.I)),
    ("tax_id", re.compile(r"tax[-_]?id|vat|ein\b", re.I)),
    ("bank", re.compile(r"iban|bic|swift|bank|account[-_]?number|routing", re.I)),
)


@dataclass(frozen=True)
class Access:
    """One visitor: role, name (the provider's subject and e-mail when signed in) and the
    practices they are limited to (None: all; empty: none)."""

    role: Role
    user: str
    practices: tuple[str, ...] | None = None
    signed_in: bool = True
    subject: str = ""

    def can_open(self, page: str) -> bool:
        """Whether this role may open the page (a key of `throughline.ui.PAGES`)."""
        return page in PAGES_BY_ROLE[self.role]

    def sees(self, kind: Sensitive) -> bool:
        """Whether this role sees that kind of field unmasked."""
        return kind in SEES[self.role]

    @property
    def sees_everything(self) -> bool:
        return SEES[self.role] == SEES["admin"]

    @property
    def limited(self) -> bool:
        """Whether this visitor sees only some practices."""
        return self.practices is not None

    def scope(self, filters: Filters) -> Filters:
        """The filters limited to this user's practices (all of theirs when none is chosen;
        nothing when they have none)."""
        if self.practices is None:
            return filters
        chosen = tuple(p for p in filters.practices if p in self.practices)
        return dataclasses.replace(
            filters, practices=chosen or self.practices, practices_limited=True
        )

    def allows(self, practice: object) -> bool:
        """Whether a record of `practice` is in this visitor's scope (an unknown practice is
        not, for a limited visitor)."""
        return self.practices is None or (isinstance(practice, str) and practice in self.practices)

    def practice_clause(self, column: Any) -> ColumnElement[bool] | None:
        """A WHERE clause keeping rows of this visitor's practices (None: no limit)."""
        if self.practices is None:
            return None
        return column.in_(list(self.practices)) if self.practices else false()

    @property
    def hidden(self) -> frozenset[Sensitive]:
        """The kinds of values this visitor's role sees masked."""
        return frozenset(k for k in SEES["admin"] if k not in SEES[self.role])

    @property
    def hidden_in_text(self) -> tuple[str, ...]:
        """The kinds masked inside free text for this role (`store.masking.TEXT_KINDS`;
        card numbers and secrets always are)."""
        return tuple(sorted(set(TEXT_KINDS) & self.hidden))


#: A visitor of a dashboard without sign-in (the demo, or `auth.allow_anonymous`).
ANONYMOUS = Access("admin", "demo visitor", signed_in=False)


def access_from_claims(claims: Mapping[str, Any], auth: AuthSettings) -> Access | None:
    """The access of a signed-in user from their ID-token claims; None when no claim value maps
    to a role (the no-access page). With several roles the most capable one counts. A PMO is
    limited to the practices of the practice claim; without it, to none unless
    ``auth.pmo_without_practices`` is ``"all"``."""
    mapped = {auth.roles[v] for v in _values(claims.get(auth.role_claim)) if v in auth.roles}
    if not mapped:
        return None
    role = max(mapped, key=ROLES.index)
    subject = str(claims.get("sub") or "")
    user = str(claims.get("email") or claims.get("name") or subject or "signed-in user")
    practices: tuple[str, ...] | None = None
    if role == "pmo":
        if auth.practice_claim in claims:
            practices = tuple(_values(claims.get(auth.practice_claim)))
        elif auth.pmo_without_practices == "none":
            practices = ()
    return Access(role, user, practices, subject=subject)


def session_end(claims: Mapping[str, Any], now: float, max_hours: float) -> str | None:
    """Why a sign-in with these ID-token claims is over at `now` (seconds since the epoch):
    its token expired (``exp``), or it was issued (``iat``) more than `max_hours` ago; None
    while it lasts. A token without those claims is over: it cannot be dated."""
    expires, issued = _epoch(claims.get("exp")), _epoch(claims.get("iat"))
    if expires is None or issued is None:
        return "the sign-in carries no issue or expiry time"
    if now >= expires:
        return "the sign-in expired"
    if now - issued >= max_hours * 3600:
        return f"the sign-in is older than {max_hours:g} hours"
    return None


def _epoch(value: Any) -> float | None:
    try:
        return float(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def _values(claim: Any) -> list[str]:
    """A claim as a list of strings (a string may hold several, comma or space separated)."""
    if claim is None:
        return []
    if isinstance(claim, str):
        return [v for v in re.split(r"[,\s]+", claim) if v]
    if isinstance(claim, list | tuple):
        return [str(v) for v in claim]
    return [str(claim)]


def kind_of(name: str) -> Sensitive | None:
    """The sensitive kind a field name stands for, if any."""
    return next((kind for kind, pattern in _KINDS if pattern.search(name)), None)


def mask(value: T, access: Access) -> T:
    """`value` with what `access` may not see masked: data frames, dataclasses (field by field,
    payload fields emptied), mappings, sequences and text (e-mail addresses, IBANs and tax ids
    inside any string — the tax ids of every country Throughline knows, the EU's, GB's and US
    EINs, not only the configured entities' — and card numbers and secrets too, for what was
    stored before they were removed on the way in). The admin sees everything as stored."""
    if access.sees_everything:
        return value
    return cast("T", _mask(value, access))


def _mask(value: Any, access: Access, name: str = "") -> Any:
    kind = kind_of(name) if name else None
    if kind is not None and not access.sees(kind):
        return None if kind == "payload" else _masked(value)
    if isinstance(value, pd.DataFrame):
        return _mask_frame(value, access)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: _mask(getattr(value, f.name), access, f.name) for f in dataclasses.fields(value)
        }
        return dataclasses.replace(value, **changes)
    if isinstance(value, Mapping):
        return {k: _mask(v, access, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple) and not hasattr(value, "_fields"):
        return type(value)(_mask(v, access) for v in value)
    if isinstance(value, str):
        return mask_free_text(value, access.hidden_in_text, ALL_COUNTRIES)
    return value


def _masked(value: Any) -> Any:
    """A field's value replaced by the mask (empty values stay empty)."""
    if isinstance(value, pd.Series):
        return value.where(value.isna() | (value.astype(str) == ""), MASK)
    return MASK if value not in (None, "") else value


def _mask_frame(frame: pd.DataFrame, access: Access) -> pd.DataFrame:
    out = frame.copy(deep=False)
    for column in frame.columns:
        kind = kind_of(str(column))
        series = frame[column]
        if kind == "payload" and not access.sees(kind):
            out[column] = None
        elif kind is not None and not access.sees(kind):
            out[column] = _masked(series)
        elif series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
            out[column] = [_mask(v, access) for v in series]
    return out
