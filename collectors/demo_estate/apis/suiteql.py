"""The SuiteQL subset the simulated ERP understands.

::

    SELECT * | <item>[, <item> ...] FROM <table>
      [WHERE <cond> [AND <cond> ...]]
      [ORDER BY <col> [ASC|DESC][, <col> [ASC|DESC] ...]]

``item`` is ``<col>`` or ``TO_CHAR(<col>, '<format model>') AS <alias>``; ``cond`` is
``<col> <op> '<string>'`` or ``<col> <op> TO_DATE('<string>', '<format model>')`` (also
``TO_TIMESTAMP``) with ``op`` one of ``= >= > <= <``; comparisons on ``lastmodifieddate``,
``createddate`` and ``datecreated`` read the string as ISO-8601. Format models know ``YYYY MM DD
HH24 MI SS``, punctuation and ``"quoted text"`` (Oracle's elements); times are UTC, the time
zone of the demo's integration user. Keywords are case-insensitive; table and column names are
lower case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime


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
    """A parsed query; ``columns`` (the answer's names) is None for ``SELECT *``;
    ``to_char`` maps an alias to the column and format model it formats."""

    columns: tuple[str, ...] | None
    table: str
    where: tuple[Cond, ...] = ()
    order_by: tuple[tuple[str, bool], ...] = ()
    to_char: tuple[tuple[str, str, str], ...] = ()  # (alias, column, format model)


_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<cols>.+?)\s+FROM\s+(?P<table>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?"
    r"(?:\s+ORDER\s+BY\s+(?P<order>.+?))?\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_COND = re.compile(r"^\s*(?P<col>\w+)\s*(?P<op>>=|<=|>|<|=)\s*'(?P<value>[^']*)'\s*$")
_COND_TO_DATE = re.compile(
    r"^\s*(?P<col>\w+)\s*(?P<op>>=|<=|>|<|=)\s*TO_(?:DATE|TIMESTAMP)\(\s*'(?P<value>[^']*)'"
    r"\s*,\s*'(?P<mask>[^']*)'\s*\)\s*$",
    re.IGNORECASE,
)
_TO_CHAR = re.compile(
    r"^TO_CHAR\(\s*(?P<col>\w+)\s*,\s*'(?P<mask>[^']*)'\s*\)\s+(?:AS\s+)?(?P<alias>\w+)$",
    re.IGNORECASE,
)
_COL = re.compile(r"^\w+$")
_MASK = re.compile(r'"[^"]*"|YYYY|HH24|MM|DD|MI|SS|[-/,.:; ]', re.IGNORECASE)
_STRFTIME = {"YYYY": "%Y", "HH24": "%H", "MM": "%m", "DD": "%d", "MI": "%M", "SS": "%S"}


def format_model(mask: str) -> str:
    """An Oracle datetime format model as a ``strftime``/``strptime`` format."""
    out, at = [], 0
    while at < len(mask):
        m = _MASK.match(mask, at)
        if not m:
            raise SuiteQlError(f"Invalid search query. Unsupported format model: {mask}")
        token = m.group()
        if token.startswith('"'):
            out.append(token[1:-1].replace("%", "%%"))
        else:
            out.append(_STRFTIME.get(token.upper(), token))
        at = m.end()
    return "".join(out)


def to_char(value: datetime | date, mask: str) -> str:
    """``TO_CHAR(value, mask)``; an aware datetime is written in UTC."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime(format_model(mask))


def to_date(value: str, mask: str) -> str:
    """``TO_DATE(value, mask)`` as the ISO-8601 UTC string the comparisons read."""
    try:
        parsed = datetime.strptime(value, format_model(mask))
    except ValueError:
        raise SuiteQlError(f"Invalid search query. '{value}' does not match '{mask}'") from None
    return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")


def select_items(text: str) -> list[str]:
    """The select list split at its top-level commas (not those inside parentheses)."""
    items, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            items.append(text[start:i].strip())
            start = i + 1
    items.append(text[start:].strip())
    return items


def _select(text: str) -> tuple[tuple[str, ...], tuple[tuple[str, str, str], ...]]:
    names: list[str] = []
    formats: list[tuple[str, str, str]] = []
    for item in select_items(text):
        formatted = _TO_CHAR.match(item)
        if formatted:
            format_model(formatted["mask"])  # refuse an unsupported model now
            alias = formatted["alias"].lower()
            formats.append((alias, formatted["col"].lower(), formatted["mask"]))
            names.append(alias)
        elif _COL.match(item):
            names.append(item.lower())
        else:
            raise SuiteQlError(f"Invalid search query. Unsupported column expression: {item}")
    return tuple(names), tuple(formats)


def _condition(part: str) -> Cond:
    cm = _COND.match(part)
    if cm:
        return Cond(cm["col"].lower(), cm["op"], cm["value"])
    dm = _COND_TO_DATE.match(part)
    if dm:
        return Cond(dm["col"].lower(), dm["op"], to_date(dm["value"], dm["mask"]))
    raise SuiteQlError(f"Invalid search query. Unsupported condition: {part.strip()}")


def parse_suiteql(q: str) -> SuiteQuery:
    """Parse ``q`` or raise SuiteQlError."""
    m = _QUERY.match(q)
    if not m:
        raise SuiteQlError("Invalid search query. Search error occurred: syntax error in query")
    cols_text = m["cols"].strip()
    columns: tuple[str, ...] | None = None
    formats: tuple[tuple[str, str, str], ...] = ()
    if cols_text != "*":
        columns, formats = _select(cols_text)
    where: list[Cond] = []
    if m["where"]:
        for part in re.split(r"\s+AND\s+", m["where"], flags=re.IGNORECASE):
            where.append(_condition(part))
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
    return SuiteQuery(columns, m["table"].lower(), tuple(where), tuple(order), formats)
