"""Who may see what: roles, the pages each role opens, row scoping by practice, and masking.

A signed-in user's role comes from an ID-token claim mapped through ``settings.auth.roles``;
a PMO user may be limited to practices by another claim. The dashboard asks `Access.can_open`
before drawing a page and passes everything it loads through `mask`, so a page and its CSV and
Excel exports show the same values: payloads, tax ids, bank details and e-mail addresses are
masked for roles that need not see them (on top of the masking applied before storage).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

import pandas as pd

from metrics.kpis.common import Filters
from metrics.masking import EMAIL, MASK
from throughline.settings import AuthSettings, Role

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
    """One visitor's role, name and the practices they are limited to (None: all)."""

    role: Role
    user: str
    practices: tuple[str, ...] | None = None
    signed_in: bool = True

    def can_open(self, page: str) -> bool:
        """Whether this role may open the page (a key of `throughline.ui.PAGES`)."""
        return page in PAGES_BY_ROLE[self.role]

    def sees(self, kind: Sensitive) -> bool:
        """Whether this role sees that kind of field unmasked."""
        return kind in SEES[self.role]

    @property
    def sees_everything(self) -> bool:
        return SEES[self.role] == SEES["admin"]

    def scope(self, filters: Filters) -> Filters:
        """The filters limited to this user's practices (all of them when none is chosen)."""
        if self.practices is None:
            return filters
        chosen = [p for p in filters.practices if p in self.practices]
        return dataclasses.replace(filters, practices=tuple(chosen) or self.practices or ("",))


#: A visitor of a dashboard without sign-in (the demo, or `auth.allow_anonymous`).
ANONYMOUS = Access("admin", "demo visitor", signed_in=False)


def access_from_claims(claims: Mapping[str, Any], auth: AuthSettings) -> Access | None:
    """The access of a signed-in user from their ID-token claims; None when no claim value maps
    to a role (the no-access page). With several roles the most capable one counts."""
    mapped = {auth.roles[v] for v in _values(claims.get(auth.role_claim)) if v in auth.roles}
    if not mapped:
        return None
    role = max(mapped, key=ROLES.index)
    user = str(claims.get("email") or claims.get("name") or claims.get("sub") or "signed-in user")
    practices = _values(claims.get(auth.practice_claim))
    limited = role == "pmo" and auth.practice_claim in claims
    return Access(role, user, tuple(practices) if limited else None)


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
    payload fields emptied), mappings, sequences and text (e-mail addresses)."""
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
    if isinstance(value, str) and not access.sees("email"):
        return EMAIL.sub(MASK, value)
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
