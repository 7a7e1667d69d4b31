"""The SuiteQL subset the simulated ERP understands.

::

    SELECT * | <col>[, <col> ...] FROM <table>
      [WHERE <cond> [AND <cond> ...]]
      [ORDER BY <col> [ASC|DESC][, <col> [ASC|DESC] ...]]

``cond`` is ``<col> <op> '<string>'`` with ``op`` one of ``= >= > <= <``; comparisons on
``lastmodifieddate``, ``createddate`` and ``datecreated`` read the string as ISO-8601.
Keywords are case-insensitive; table and column names are lower case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class SuiteQlError(ValueError):
    """A query the ERP rejects."""


@dataclass(frozen=True)
class Cond:
    """``column op 'value'``."""

    column: str
    op: str
    value: str


@dataclass(frozen=True)
class SuiteQuery:
    """A parsed query; ``columns`` is None for ``SELECT *``."""

    columns: tuple[str, ...] | None
    table: str
    where: tuple[Cond, ...] = ()
    order_by: tuple[tuple[str, bool], ...] = ()


_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<cols>.+?)\s+FROM\s+(?P<table>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?"
    r"(?:\s+ORDER\s+BY\s+(?P<order>.+?))?\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_COND = re.compile(r"^\s*(?P<col>\w+)\s*(?P<op>>=|<=|>|<|=)\s*'(?P<value>[^']*)'\s*$")
_COL = re.compile(r"^\w+$")


def parse_suiteql(q: str) -> SuiteQuery:
    """Parse ``q`` or raise SuiteQlError."""
    m = _QUERY.match(q)
    if not m:
        raise SuiteQlError("Invalid search query. Search error occurred: syntax error in query")
    cols_text = m["cols"].strip()
    columns: tuple[str, ...] | None = None
    if cols_text != "*":
        columns = tuple(c.strip().lower() for c in cols_text.split(","))
        for c in columns:
            if not _COL.match(c):
                raise SuiteQlError(f"Invalid search query. Unsupported column expression: {c}")
    where: list[Cond] = []
    if m["where"]:
        for part in re.split(r"\s+AND\s+", m["where"], flags=re.IGNORECASE):
            cm = _COND.match(part)
            if not cm:
                raise SuiteQlError(f"Invalid search query. Unsupported condition: {part.strip()}")
            where.append(Cond(cm["col"].lower(), cm["op"], cm["value"]))
    order: list[tuple[str, bool]] = []
    if m["order"]:
        for part in m["order"].split(","):
            words = part.split()
            if not words or len(words) > 2 or not _COL.match(words[0]):
                raise SuiteQlError(f"Invalid search query. Unsupported ORDER BY: {part.strip()}")
            direction = words[1].upper() if len(words) == 2 else "ASC"
            if direction not in ("ASC", "DESC"):
                raise SuiteQlError(f"Invalid search query. Unsupported ORDER BY: {part.strip()}")
            order.append((words[0].lower(), direction == "DESC"))
    return SuiteQuery(columns, m["table"].lower(), tuple(where), tuple(order))
