"""Machinery of the bad-input corpus: case files, token expansion and fake vendor APIs.

A case file (`<format>/cases.yaml`) lists cases, each with a `name`, an `expect` (quarantine,
stored or error), a `reason_contains` and its input. Inputs are written as data; a few tokens
stand for what YAML cannot hold or a repository should not (see README.md):

    <<long:N>>      N letters "x" (e.g. 1 MB)          <<bytes:ff fe>>  raw bytes (not UTF-8)
    <<bom>>         a UTF-8 byte order mark             <<deep:N>>       N nested JSON arrays
    <<raw:TEXT>>    a JSON value written verbatim (NaN, Infinity, 1e400, a lone "\\ud800" escape)
    <<dup:NAME>>    (a JSON key) the member NAME a second time

The fake APIs serve each stream's records as JSON bytes exactly as the corpus wrote them,
filtered by the collector's cursor the way the vendor filters, behind the vendor's credential
check (the one its recorded fixtures declare, `tests/collectors/fixture_api.py`).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import httpx
import yaml
from pydantic import SecretStr

from collectors.base import Collector
from collectors.registry import build_collector
from foundation.settings import CollectorSettings, Settings
from tests.collectors.fixture_api import FakeApi, FixtureApi, fixture
from tests.collectors.sources import SAAS

CORPUS = Path(__file__).resolve().parent
#: The runs' clock: the corpus's records are from March 2026.
NOW = datetime(2026, 6, 1, tzinfo=UTC)
#: Cursor times of the good records A and B, the bad record X between them, and C added later
#: (an hour after the runs' clock: later than any cursor a case may leave behind).
TIMES = {
    "A": datetime(2026, 3, 1, 10, tzinfo=UTC),
    "X": datetime(2026, 3, 1, 11, tzinfo=UTC),
    "B": datetime(2026, 3, 1, 12, tzinfo=UTC),
    "C": datetime(2026, 6, 1, 1, tzinfo=UTC),
}
Expect = Literal["quarantine", "stored", "error"]
TOKEN = re.compile(r"<<(long|bytes|bom|deep|raw|dup):?(.*?)>>", re.DOTALL)


@dataclass(frozen=True)
class Case:
    """One corpus case: its format (folder), name, expected outcome and the rest of its data."""

    format: str
    name: str
    expect: Expect
    reason_contains: str  # empty for `stored`
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.format}/{self.name}"

    @property
    def pg(self) -> bool:
        """Also run on PostgreSQL (a representative subset)."""
        return bool(self.data.get("pg"))


def load_format(name: str) -> dict[str, Any]:
    """The parsed `cases.yaml` of one format folder."""
    loaded: dict[str, Any] = yaml.safe_load((CORPUS / name / "cases.yaml").read_text("utf-8"))
    return loaded


def load_cases(name: str) -> list[Case]:
    """The cases of one format, checked for the fields every case needs."""
    cases = []
    for entry in load_format(name)["cases"]:
        data = dict(entry)
        expect = data.pop("expect")
        assert expect in ("quarantine", "stored", "error"), (name, entry)
        reason = str(data.pop("reason_contains", ""))
        assert expect == "stored" or reason, f"{name}/{entry['name']} needs reason_contains"
        cases.append(Case(name, data.pop("name"), expect, reason, data))
    names = [c.name for c in cases]
    assert len(set(names)) == len(names), f"{name}: duplicate case names"
    return cases


# --- tokens ------------------------------------------------------------------------------------


def expand_text(text: str) -> bytes:
    """A text input (log line, CSV, YAML, TOML, env value) with its tokens expanded, as bytes."""
    out = bytearray()
    done = 0
    for match in TOKEN.finditer(text):
        out += text[done : match.start()].encode()
        kind, arg = match.group(1), match.group(2)
        if kind == "long":
            out += b"x" * int(arg)
        elif kind == "bytes":
            out += bytes.fromhex(arg)
        elif kind == "bom":
            out += b"\xef\xbb\xbf"
        elif kind == "deep":
            out += b"[" * int(arg) + b"]" * int(arg)
        else:
            out += arg.encode()
        done = match.end()
    return bytes(out + text[done:].encode())


def expand_str(text: str) -> str:
    """`expand_text` as a str (undecodable bytes as surrogate escapes, as `os.environ` holds)."""
    return expand_text(text).decode("utf-8", "surrogateescape")


def to_json(value: Any) -> bytes:
    """JSON bytes of `value` with the corpus tokens in its strings and keys written verbatim."""
    spliced: dict[str, bytes] = {}

    def mark(raw: bytes) -> str:
        name = f"\x00S{len(spliced)}\x00"
        spliced[name] = raw
        return name

    def walk(item: Any) -> Any:
        if isinstance(item, dict):
            return {key_of(k): walk(v) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v) for v in item]
        if isinstance(item, str):
            whole = TOKEN.fullmatch(item)
            if whole and whole.group(1) in ("raw", "deep"):
                return mark(
                    b"\x01" + expand_text(item if whole.group(1) == "deep" else whole.group(2))
                )
            if TOKEN.search(item):
                return mark(expand_text(item))
        return item

    def key_of(key: Any) -> Any:
        dup = TOKEN.fullmatch(key) if isinstance(key, str) else None
        if dup and dup.group(1) == "dup":
            return mark(b"\x01" + json.dumps(dup.group(2)).encode())
        return key

    text = json.dumps(walk(value), ensure_ascii=False).encode()
    for name, raw in spliced.items():
        escaped = json.dumps(name).encode()  # '"\u0000S0\u0000"'
        if raw.startswith(b"\x01"):  # a whole value or key: replace it with its quotes
            text = text.replace(escaped, raw[1:])
        else:  # text inside a string: keep the quotes (bytes may be invalid UTF-8 on purpose)
            text = text.replace(escaped[1:-1], raw.replace(b'"', b'\\"'))
    return text


def merged(template: Any, change: Any) -> Any:
    """`template` with `change` merged in (objects member by member, anything else replaced)."""
    if isinstance(template, dict) and isinstance(change, dict):
        out = dict(template)
        for key, value in change.items():
            out[key] = merged(template.get(key), value) if key in template else value
        return out
    return copy.deepcopy(change)


def removed(record: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """`record` without the members at the dotted `paths`."""
    out = copy.deepcopy(record)
    for path in paths:
        if path in out:  # a member whose name has a dot (Tryton's "party.")
            del out[path]
            continue
        *parents, last = path.split(".")
        target = out
        for name in parents:
            target = target[name]
        target.pop(last, None)
    return out


def set_path(record: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    target = record
    for name in parents:
        target = target.setdefault(name, {})
    target[last] = value


# --- streams and records ----------------------------------------------------------------------


@dataclass
class Item:
    """One record as served: its key and cursor (None when unreadable) and its JSON bytes."""

    key: Any
    at: datetime | None
    body: bytes


def tryton_datetime(at: datetime) -> dict[str, Any]:
    return {
        "__class__": "datetime",
        "year": at.year,
        "month": at.month,
        "day": at.day,
        "hour": at.hour,
        "minute": at.minute,
        "second": at.second,
        "microsecond": 0,
    }


def lenient_time(value: Any) -> datetime | None:
    """A record's cursor as a fake API reads it to filter, or None when it cannot."""
    try:
        if isinstance(value, dict):
            return datetime(
                value["year"],
                value["month"],
                value["day"],
                value["hour"],
                value["minute"],
                value["second"],
                tzinfo=UTC,
            )
        if isinstance(value, str):
            text = value.replace("Z", "+00:00")
            if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
                text = f"{text[:-2]}:{text[-2:]}"
            parsed = datetime.fromisoformat(text)
            return parsed.astimezone(UTC) if parsed.tzinfo else None
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    return None


@dataclass(frozen=True)
class StreamSpec:
    """How a format's case file describes one stream (see its `streams:` section)."""

    name: str
    table: str  # where the fake API keeps its records (an sObject, an endpoint, a model)
    key: str
    cursors: tuple[str, ...]
    template: dict[str, Any]
    stored: str  # SQL: the source keys this stream has stored
    keys: dict[str, Any]
    typed: bool = False  # Tryton's typed JSON values
    key_copies: tuple[str, ...] = ()  # members that carry the key too (e.g. a rate's day)

    @classmethod
    def of(cls, name: str, spec: Mapping[str, Any]) -> StreamSpec:
        cursors = spec["cursor"]
        return cls(
            name,
            spec["table"],
            spec["key"],
            tuple([cursors] if isinstance(cursors, str) else cursors),
            spec["template"],
            spec["stored"],
            dict(spec.get("keys") or {k: f"{k}-1" for k in TIMES}),
            bool(spec.get("typed")),
            tuple(spec.get("key_copies") or ()),
        )

    def keyed(self, label: str) -> dict[str, Any]:
        """The template with record `label`'s key and cursor time."""
        record = copy.deepcopy(self.template)
        for path in (self.key, *self.key_copies):
            set_path(record, path, self.keys[label])
        for path in self.cursors:
            set_path(record, path, self.stamp(TIMES[label]))
        return record

    def good(self, label: str) -> Item:
        """Good record `label` (A, B or C)."""
        return Item(self.keys[label], TIMES[label], to_json(self.keyed(label)))

    def bad(self, case: Case) -> Item:
        """The case's record X: the template with the case's changes, or its raw JSON."""
        if "record" in case.data:  # raw JSON text (e.g. not an object at all)
            return Item(None, None, expand_text(str(case.data["record"])))
        record = self.keyed("X")
        record = removed(merged(record, case.data.get("input") or {}), case.data.get("remove", []))
        value: Any = record
        for name in self.cursors[0].split("."):
            value = value.get(name) if isinstance(value, dict) else None
        key = record.get(self.key)
        key = expand_str(key) if isinstance(key, str) else key
        return Item(
            key if isinstance(key, str | int) else None, lenient_time(value), to_json(record)
        )

    def stamp(self, at: datetime) -> Any:
        return tryton_datetime(at) if self.typed else at.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- fake APIs ---------------------------------------------------------------------------------


class CorpusApi(FakeApi):
    """Serves `records[table]` (bytes as the corpus wrote them); subclasses route per vendor."""

    records: dict[str, list[Item]]
    bom: bool = False

    def served(
        self, table: str, since: datetime | None, newest_first: bool = False
    ) -> tuple[bytes, int]:
        """The records of `table` at or after `since` (unreadable cursors always), in order, as
        a JSON array, and how many they are."""
        items = [
            i for i in self.records.get(table, []) if since is None or i.at is None or i.at >= since
        ]
        order = sorted(items, key=lambda i: (i.at or datetime.max.replace(tzinfo=UTC), str(i.key)))
        if newest_first:
            order = sorted(
                items, key=lambda i: int(str(i.key)) if str(i.key).isdigit() else 0, reverse=True
            )
        return b"[" + b", ".join(i.body for i in order) + b"]", len(order)

    def envelope(self, template: str, records: tuple[bytes, int]) -> httpx.Response:
        """A 200 answer: `template` JSON with `@records@` replaced by the records and `@count@`
        by their number (the page's declared size or total)."""
        body = template.replace('"@count@"', str(records[1])).encode()
        body = body.replace(b'"@records@"', records[0])
        if self.bom:
            body = b"\xef\xbb\xbf" + body
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})


class VendorCorpus(CorpusApi):
    """A corpus behind the credential check and answers of a vendor's recorded fixtures."""

    vendor: str

    def __init__(self) -> None:
        super().__init__()
        self.recorded = FixtureApi(self.vendor)
        self.api_prefix = self.recorded.api_prefix

    def special(self, request: httpx.Request) -> httpx.Response | None:
        return self.recorded.special(request)

    def authorized(self, request: httpx.Request) -> bool:
        return self.recorded.authorized(request)

    def unauthorized(self) -> httpx.Response:
        return self.recorded.unauthorized()


def _since_soql(soql: str) -> datetime | None:
    found = re.search(r"WHERE \w+ >= (\S+)", soql)
    return lenient_time(found.group(1)) if found else None


class SalesforceCorpus(VendorCorpus):
    """SOQL over `records[<sObject>]`, one page."""

    vendor = "salesforce"

    def route(self, request: httpx.Request) -> httpx.Response:
        soql = request.url.params["q"]
        sobject = re.search(r"\bFROM (\w+)", soql)
        assert sobject is not None
        records = self.served(sobject.group(1), _since_soql(soql))
        return self.envelope(
            '{"totalSize": "@count@", "done": true, "records": "@records@"}', records
        )


class HubSpotCorpus(VendorCorpus):
    """CRM search over `records[deals|companies]` (no associations), one page."""

    vendor = "hubspot"

    def route(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        body = json.loads(request.content or b"{}")
        search = re.fullmatch(r"/crm/v3/objects/(\w+)/search", path)
        if search is None:  # associations, companies batch read: nothing associated
            return httpx.Response(200, json={"status": "COMPLETE", "results": []})
        since = None
        for group in body.get("filterGroups", []):
            for f in group["filters"]:
                since = datetime.fromtimestamp(int(f["value"]) / 1000, UTC)
        records = self.served(search.group(1), since)
        return self.envelope('{"total": "@count@", "results": "@records@"}', records)


class NetSuiteCorpus(VendorCorpus):
    """SuiteQL over `records[<table>]` or `records[<table>:<type>]`, one page."""

    vendor = "netsuite"

    def route(self, request: httpx.Request) -> httpx.Response:
        query = json.loads(request.content)["q"]
        table = re.search(r"\bFROM (\w+)", query)
        kind = re.search(r"type = '(\w+)'", query)
        assert table is not None
        if table.group(1) in ("currency", "subsidiary"):  # the lists ids are looked up in
            return httpx.Response(200, json=fixture("netsuite", f"suiteql_{table.group(1)}.json"))
        name = f"{table.group(1)}:{kind.group(1)}" if kind else table.group(1)
        since = re.search(r"lastmodifieddate >= TO_DATE\('([^']+)'", query)
        wall = datetime.fromisoformat(since.group(1)) if since else None  # in the user's zone
        zone = ZoneInfo(SAAS["netsuite"]["options"]["timezone"])  # the recorded user's
        at = wall.replace(tzinfo=zone).astimezone(UTC) if wall else None
        records = self.served(name, at)
        return self.envelope(
            '{"links": [], "count": "@count@", "hasMore": false, "offset": 0,'
            ' "totalResults": "@count@", "items": "@records@"}',
            records,
        )


class N8nCorpus(VendorCorpus):
    """Executions newest first from `records["executions"]`, one page; the recorded workflows."""

    vendor = "n8n"

    def route(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/workflows":
            return httpx.Response(200, json=fixture("n8n", "workflows.json"))
        records = self.served("executions", None, newest_first=True)
        return self.envelope('{"data": "@records@", "nextCursor": null}', records)


class BearerCorpus(CorpusApi):
    """The demo estate's PSA and iPaaS APIs: a bearer token, records under `data` or `jobs`."""

    TOKEN = "corpus-token"

    def authorized(self, request: httpx.Request) -> bool:
        return bool(request.headers.get("Authorization") == f"Bearer {self.TOKEN}")

    def route(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        since_text = request.url.params.get("modified_since") or request.url.params.get(
            "updated_after"
        )
        since = lenient_time(since_text) if since_text else None
        endpoint = path.rstrip("/").rsplit("/", 1)[-1]
        records = self.served(endpoint, since)
        if endpoint == "jobs":
            return self.envelope('{"jobs": "@records@", "next_cursor": null}', records)
        return self.envelope('{"data": "@records@", "next_page_token": null}', records)


class TrytonCorpus(CorpusApi):
    """Tryton's JSON-RPC: login, and `search_read` of `records[<model>]` for a stream's window
    (sorted by last_modified_at, id); related-record reads (enrichment) find nothing."""

    PASSWORD = "corpus-password"

    def authorized(self, request: httpx.Request) -> bool:
        return bool(request.headers.get("Authorization", "").startswith("Session "))

    def special(self, request: httpx.Request) -> httpx.Response | None:
        call = json.loads(request.content)
        if call["method"] != "common.db.login":
            return None
        if call["params"][1].get("password") != self.PASSWORD:
            return httpx.Response(401)
        return httpx.Response(200, json={"id": call["id"], "result": [1, "session", None]})

    def route(self, request: httpx.Request) -> httpx.Response:
        call = json.loads(request.content)
        model = call["method"].removeprefix("model.").removesuffix(".search_read")
        domain, order = call["params"][0], call["params"][3]
        if order != [["last_modified_at", "ASC"], ["id", "ASC"]]:  # enrichment
            return httpx.Response(200, json={"id": call["id"], "result": []})
        since = None
        for clause in domain:
            if isinstance(clause, list) and clause and clause[0] == "OR":
                since = lenient_time(clause[1][0][2])
        records = self.served(model, since)
        return self.envelope(f'{{"id": {call["id"]}, "result": "@records@"}}', records)


# --- collectors --------------------------------------------------------------------------------


@dataclass
class Vendor:
    """One API format: its fake and how the registry builds its collector against it."""

    name: str
    fake: Callable[[], CorpusApi]
    build: Callable[[httpx.BaseTransport], Collector]
    streams: dict[str, StreamSpec] = field(default_factory=dict)


def _saas(name: str) -> Callable[[httpx.BaseTransport], Collector]:
    from tests.collectors.sources import saas_settings

    def build(transport: httpx.BaseTransport) -> Collector:
        options = dict(SAAS[name]["options"])
        if "limit" in options:  # the corpus fakes answer in one page: ask for pages that big
            options["limit"] = 100
        return build_collector(
            name, saas_settings(name), transport=transport, options={name: options}
        )

    return build


def _demo(name: str) -> Callable[[httpx.BaseTransport], Collector]:
    def build(transport: httpx.BaseTransport) -> Collector:
        settings = Settings(
            database_url="sqlite://",
            demo_token=SecretStr(BearerCorpus.TOKEN),
            collectors={name: CollectorSettings(base_url="http://estate.test")},
        )
        return build_collector(name, settings, transport=transport)

    return build


def _tryton(transport: httpx.BaseTransport) -> Collector:
    settings = Settings(
        database_url="sqlite://",
        collectors={"tryton": CollectorSettings(base_url="http://tryton.test/corpus/")},
        secrets={"tryton_password": SecretStr(TrytonCorpus.PASSWORD)},
    )
    return build_collector("tryton", settings, transport=transport, options={"tryton": {}})


def _fake(cls: type[CorpusApi]) -> Callable[[], CorpusApi]:
    def make() -> CorpusApi:
        api = cls()
        api.records = {}
        return api

    return make


VENDORS: dict[str, Vendor] = {
    "salesforce": Vendor("salesforce", _fake(SalesforceCorpus), _saas("salesforce")),
    "hubspot": Vendor("hubspot", _fake(HubSpotCorpus), _saas("hubspot")),
    "netsuite": Vendor("netsuite", _fake(NetSuiteCorpus), _saas("netsuite")),
    "n8n": Vendor("n8n", _fake(N8nCorpus), _saas("n8n")),
    "psa": Vendor("demo_psa", _fake(BearerCorpus), _demo("demo_psa")),
    "ipaas_jobs": Vendor("demo_ipaas", _fake(BearerCorpus), _demo("demo_ipaas")),
    "tryton": Vendor("tryton", _fake(TrytonCorpus), _tryton),
}


def vendor(name: str) -> Vendor:
    """The vendor of an API format, with its streams from the case file."""
    found = VENDORS[name]
    if not found.streams:
        specs = load_format(name)["streams"]
        found.streams = {s: StreamSpec.of(s, spec) for s, spec in specs.items()}
    return found
