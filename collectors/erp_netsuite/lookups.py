"""NetSuite's internal ids of currencies and subsidiaries → ISO codes and legal entities.

SuiteQL answers a record's ``currency`` (a rate's ``basecurrency`` and ``transactioncurrency``)
and ``subsidiary`` with internal ids (``"4"``), which no FX rate or business calendar knows. The
collector reads NetSuite's ``currency`` list (``symbol`` is the ISO 4217 code, labelled "ISO
Code" in the UI; ``displaysymbol`` is the "$") and ``subsidiary`` list (``name``, ``country``)
once per run, the first time a page holds such an id, and hands the records on with ISO codes
and legal entity codes (references: ``tests/fixtures/http/netsuite/README.md``).

A subsidiary becomes the legal entity that `legal_entities` names for its id or its name; else
the configured entity of the same name; else the only configured entity in its country; else it
keeps its own name. A value that is not an id (the demo ERP already sends codes) is left as it
is. An id NetSuite's list does not have is marked (``UNRESOLVED``) for the mapper to quarantine
the record with a reason, never stored as if it were a code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import httpx

from collectors.base import Record
from collectors.errors import MappingError
from collectors.page_checks import PageContract
from collectors.paging import OffsetPaginator, iter_records

QUERY_PATH = "services/rest/query/v1/suiteql"
CURRENCY_COLUMNS = ("currency", "basecurrency", "transactioncurrency")
SUBSIDIARY_COLUMN = "subsidiary"
UNRESOLVED = "_unresolved"
LIST_LIMIT = 1000


@dataclass(frozen=True)
class Entity:
    """A configured legal entity, as a subsidiary may match it."""

    code: str
    name: str
    country: str


def is_id(value: Any) -> TypeGuard[str]:
    """Whether a column holds a NetSuite internal id (digits) rather than a code."""
    return isinstance(value, str) and value.isascii() and value.isdigit()


def check_resolved(record: Record) -> None:
    """`MappingError` naming the ids of `record` that NetSuite's lists did not have."""
    missing = record.get(UNRESOLVED)
    if missing:
        raise MappingError(f"{', '.join(missing)} not in NetSuite's lists (deleted or hidden?)")


@dataclass
class Lookups:
    """Resolves the ids of one run's pages, reading each list at most once."""

    legal_entities: Mapping[str, str] = field(default_factory=dict)
    entities: tuple[Entity, ...] = ()
    currencies: dict[str, str] | None = None
    subsidiaries: dict[str, str] | None = None

    def resolve(self, client: httpx.Client, page: list[Record]) -> list[Record]:
        """The page with currency and subsidiary ids replaced by ISO and entity codes."""
        records = [r for r in page if isinstance(r, dict)]
        if self.currencies is None and _holds_ids(records, CURRENCY_COLUMNS):
            self.currencies = dict(self._read(client, "SELECT id, symbol FROM currency"))
        wanted = {r[SUBSIDIARY_COLUMN] for r in records if is_id(r.get(SUBSIDIARY_COLUMN))}
        if self.subsidiaries is None and wanted - set(self.legal_entities):
            rows = self._rows(client, "SELECT id, name, country FROM subsidiary")
            self.subsidiaries = {str(r["id"]): self.entity_of(r) for r in rows if "id" in r}
        return [self._resolved(r) if isinstance(r, dict) else r for r in page]

    def entity_of(self, subsidiary: Record) -> str:
        """The legal entity code of a subsidiary row (see the module docstring)."""
        ident, name = str(subsidiary.get("id") or ""), str(subsidiary.get("name") or "")
        explicit = self.legal_entities.get(ident) or self.legal_entities.get(name)
        if explicit:
            return explicit
        named = [e.code for e in self.entities if e.name == name]
        country = str(subsidiary.get("country") or "").upper()
        located = [e.code for e in self.entities if e.country.upper() == country]
        if named:
            return named[0]
        if len(located) == 1:
            return located[0]
        return name or ident

    def _resolved(self, record: Record) -> Record:
        out, missing = dict(record), []
        for column in CURRENCY_COLUMNS:
            value = out.get(column)
            if is_id(value):
                code = (self.currencies or {}).get(value)
                out[column] = code if code else value
                missing += [] if code else [f"{column} {value}"]
        value = out.get(SUBSIDIARY_COLUMN)
        if is_id(value):
            entity = self.legal_entities.get(value) or (self.subsidiaries or {}).get(value)
            out[SUBSIDIARY_COLUMN] = entity if entity else value
            missing += [] if entity else [f"{SUBSIDIARY_COLUMN} {value}"]
        if missing:
            out[UNRESOLVED] = missing
        return out

    def _read(self, client: httpx.Client, query: str) -> Iterable[tuple[str, str]]:
        for row in self._rows(client, query):
            ident, code = row.get("id"), row.get("symbol")
            if ident is not None and isinstance(code, str) and code.strip():
                yield str(ident), code.strip().upper()

    @staticmethod
    def _rows(client: httpx.Client, query: str) -> list[Record]:
        rows: list[Record] = []
        paginator = OffsetPaginator(LIST_LIMIT)
        contract = PageContract(
            "currency and subsidiary lists",
            "items",
            key="id",
            total="totalResults",
            count="count",
            echo=(("offset", "offset"),),
            limit=LIST_LIMIT,
            full_pages=True,
        )
        for page in iter_records(
            client, paginator, "POST", QUERY_PATH, contract, json={"q": f"{query} ORDER BY id"}
        ):
            rows.extend(r for r in page if isinstance(r, dict))
        return rows


def _holds_ids(records: Iterable[Record], columns: Iterable[str]) -> bool:
    names = tuple(columns)
    return any(is_id(r.get(c)) for r in records for c in names)
