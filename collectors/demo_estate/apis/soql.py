"""The SOQL subset the simulated CRM understands.

::

    SELECT <field>[, <field> ...] FROM <Object>
      [WHERE <Field> <op> <datetime literal> [AND <Field> <op> <datetime literal> ...]]
      [ORDER BY <Field> [ASC|DESC][, <Field> [ASC|DESC] ...]]
      [LIMIT <n>]

``op`` is one of ``> >= < <= =``; the literal is unquoted ISO-8601 (``2026-01-01T00:00:00Z``,
``2026-01-01T00:00:00.000+0000``), as in Salesforce. Fields may be relationship paths
(``Owner.Name``). Keywords and field names are case-insensitive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from collectors.demo_estate.apis.base import parse_iso


class SoqlError(ValueError):
    """A query the CRM rejects, with Salesforce's error code."""

    def __init__(self, message: str, code: str = "MALFORMED_QUERY") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Condition:
    """``field op value`` on a datetime field."""

    field: str
    op: str
    value: datetime


@dataclass(frozen=True)
class SoqlQuery:
    """A parsed query (field names as written)."""

    fields: tuple[str, ...]
    sobject: str
    where: tuple[Condition, ...] = ()
    order_by: tuple[tuple[str, bool], ...] = ()
    limit: int | None = None


_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<obj>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?"
    r"(?:\s+ORDER\s+BY\s+(?P<order>.+?))?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_COND = re.compile(r"^\s*(?P<field>[\w.]+)\s*(?P<op>>=|<=|>|<|=)\s*(?P<value>\S+)\s*$")
_FIELD = re.compile(r"^[A-Za-z]\w*(\.[A-Za-z]\w*)?$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})$")


def parse_soql(q: str) -> SoqlQuery:
    """Parse ``q`` or raise SoqlError (MALFORMED_QUERY)."""
    m = _QUERY.match(q)
    if not m:
        raise SoqlError(f"unexpected token in query: {q[:80]!r}")
    fields = tuple(f.strip() for f in m["fields"].split(","))
    for f in fields:
        if not _FIELD.match(f):
            raise SoqlError(f"unexpected token: {f!r}")
    where: list[Condition] = []
    if m["where"]:
        for part in re.split(r"\s+AND\s+", m["where"], flags=re.IGNORECASE):
            c = _COND.match(part)
            if not c:
                raise SoqlError(f"unexpected token in WHERE: {part.strip()!r}")
            value = c["value"]
            if not _DATETIME.match(value):
                raise SoqlError(
                    f"value of filter criterion for field '{c['field']}' must be of type "
                    "dateTime and should not be enclosed in quotes",
                    "INVALID_QUERY_FILTER_OPERATOR",
                )
            where.append(Condition(c["field"], c["op"], parse_iso(value)))
    order: list[tuple[str, bool]] = []
    if m["order"]:
        for part in m["order"].split(","):
            words = part.split()
            if not words or len(words) > 2 or not _FIELD.match(words[0]):
                raise SoqlError(f"unexpected token in ORDER BY: {part.strip()!r}")
            direction = words[1].upper() if len(words) == 2 else "ASC"
            if direction not in ("ASC", "DESC"):
                raise SoqlError(f"unexpected token in ORDER BY: {words[1]!r}")
            order.append((words[0], direction == "DESC"))
    limit = int(m["limit"]) if m["limit"] else None
    return SoqlQuery(fields, m["obj"], tuple(where), tuple(order), limit)
