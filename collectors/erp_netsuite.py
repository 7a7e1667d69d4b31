"""NetSuite SuiteQL (and the demo ERP, which speaks it): customers, invoices, credit notes,
payments and daily exchange rates.

API: https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_157909186990.html
`POST /services/rest/query/v1/suiteql?limit=<≤1000>&offset=<n>` with `Prefer: transient` and
`{"q": "<SuiteQL>"}`; pages while `hasMore`. Every value comes back as a string and nulls are
omitted. Order: `ORDER BY lastmodifieddate, id` (sorted by the cursor). Limits: concurrency per
account; 429 is retried by the shared client.

Dates: SuiteQL answers a plain DATE or date-time column in the integration user's date
preference ("11/24/2026", "24.11.2026"; date-times as "11/24/2026 3:05 pm" in the user's time
zone), so every query names its columns and formats the date ones itself:
``TO_CHAR(col, 'YYYY-MM-DD')`` for dates and ``TO_CHAR(col, 'YYYY-MM-DD"T"HH24:MI:SS')`` for
date-times (Oracle format models; SuiteQL supports TO_CHAR/TO_DATE,
https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_158513731864.html). The
date-times are wall-clock times in the user's time zone preference, so they are read in
`NetSuiteConfig.timezone` (default UTC) and handed on as ISO 8601 UTC; the cursor filter is
``lastmodifieddate >= TO_DATE('<wall clock>', 'YYYY-MM-DD HH24:MI:SS')`` in that zone. A value in
another shape (a column that was not formatted) is quarantined, never guessed.

A real account authenticates with token-based authentication (OAuth 1.0a, HMAC-SHA256; see
`collectors.auth.NetSuiteTokenAuth`). With `NetSuiteConfig.projects` the collector also reads
projects (the `job` table) and time bills (`timebill`); which custom entity field on the job holds
the CRM opportunity id (deal → project `provisions`) is configuration. Every column a query names
must exist in the account: a custom field the firm does not have is set to null in `fields`.

Currencies and subsidiaries come back as internal ids; `collectors.erp_netsuite_lookups` turns
them into ISO codes and legal entities (one read of each list per run), so amounts convert. A
time bill's `hours` may come as a duration `H:MM` (`7:30`) or a decimal (`7.5`); both are hours.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from collectors.base import FetchWindow, HttpCollector, Record, optional_timestamp
from collectors.erp_netsuite_lookups import Entity, Lookups, check_resolved
from collectors.errors import MappingError
from collectors.mapping import amount, decimal_text, flag, required_text, text
from collectors.page_checks import PageContract
from collectors.paging import OffsetPaginator, iter_records
from store.canonical import (
    Activity,
    Batch,
    EventObject,
    EventRow,
    FxRateRow,
    LinkQualifier,
    LinkRow,
    ObjectRow,
    ObjectType,
)

SYSTEM = "erp"
LOOKBACK = timedelta(minutes=5)
QUERY_PATH = "services/rest/query/v1/suiteql"
DATE_MASK = "YYYY-MM-DD"
DATETIME_MASK = 'YYYY-MM-DD"T"HH24:MI:SS'  # "T" is quoted text in an Oracle format model
FILTER_MASK = "YYYY-MM-DD HH24:MI:SS"
FILTER_FORMAT = "%Y-%m-%d %H:%M:%S"  # what `wall_clock` writes for FILTER_MASK
_WALL_CLOCK = "%Y-%m-%dT%H:%M:%S"  # what DATETIME_MASK produces
_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DURATION = re.compile(r"(\d{1,4}):([0-5]\d)")
_DECIMAL_HOURS = re.compile(r"\d{1,4}(\.\d+)?")
HOURS_PRECISION = Decimal("0.000001")  # H:MM as hours: 0:20 → 0.333333


@dataclass(frozen=True)
class NetSuiteFields:
    """Custom fields that carry Throughline's links (configurable per account; None: the
    account has no such field, it is not queried)."""

    project_code: str | None = "custbody_tl_project_code"
    billing_type: str | None = "custbody_tl_billing_type"
    milestone: str | None = "custbody_tl_milestone_id"
    period_end: str | None = "custbody_tl_period_end"  # a date
    posted_at: str | None = "custbody_tl_posted_at"  # date-times from here to voided_at
    sent_at: str | None = "custbody_tl_sent_at"
    voided_at: str | None = "custbody_tl_voided_at"
    replaces: str | None = "custbody_tl_replaces"
    credits: str | None = "custbody_tl_credits"
    applied_invoice: str | None = "custbody_tl_applied_invoice"
    tax_id: str | None = "custentity_tax_id"
    project_system: str = "psa"
    job_opportunity: str | None = "custentity_tl_crm_opportunity_id"  # CRM opportunity id
    job_system: str = SYSTEM  # the source system of NetSuite's projects
    crm_system: str = "crm"
    integration_users: frozenset[str] = frozenset()  # who creates projects automatically
    timebill_approved: frozenset[str] = frozenset({"3", "Approved"})  # approvalstatus values
    timebill_approved_at: str | None = "custcol_tl_approved_at"  # when it was approved
    timebill_invoice: str | None = "custcol_tl_invoice"  # the invoice that billed it

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_system") or not isinstance(value, str):
                continue
            if not _COLUMN.fullmatch(value):
                raise ValueError(f"{f.name}: {value!r:.40} is not a SuiteQL column name")


def _columns(*names: str | None) -> tuple[str, ...]:
    """The configured columns among ``names``, each once, in order."""
    return tuple(dict.fromkeys(n for n in names if n))


def wall_clock(at: datetime, zone: ZoneInfo) -> str:
    """``at`` as a wall-clock time in ``zone`` for a TO_DATE literal (``FILTER_MASK``). In the
    hour a change to standard time repeats, an hour earlier, so nothing in it is skipped."""
    local = at.astimezone(zone)
    if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
        local -= timedelta(hours=1)
    return local.strftime(FILTER_FORMAT)


def localize(record: Record, datetimes: Iterable[str], zone: ZoneInfo) -> Record:
    """The record with each date-time column (a ``DATETIME_MASK`` wall-clock time in ``zone``)
    as ISO 8601 UTC. A value in another shape is left as it is, for the mapper to refuse."""
    if not isinstance(record, dict):
        return record
    out = dict(record)
    for column in datetimes:
        value = out.get(column)
        if not isinstance(value, str):
            continue
        try:
            naive = datetime.strptime(value, _WALL_CLOCK)
        except ValueError:
            continue
        out[column] = naive.replace(tzinfo=zone).astimezone(UTC).isoformat()
    return out


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"timezone: {name!r:.60} is not an IANA time zone name") from exc


@dataclass(frozen=True)
class SuiteQLStream:
    """One SuiteQL table (optionally one transaction type), its columns named explicitly."""

    name: str
    table: str
    mapper: Callable[[Record], Batch]
    columns: tuple[str, ...]  # sent as they are: ids, text, numbers, T/F
    dates: tuple[str, ...] = ()  # DATE columns, formatted YYYY-MM-DD
    datetimes: tuple[str, ...] = ("lastmodifieddate",)  # read in `timezone`
    transaction_type: str | None = None
    timezone: str = "UTC"  # the integration user's time zone preference
    limit: int = 200
    #: Currency and subsidiary ids → codes, shared by the streams of one run.
    lookups: Lookups | None = field(default=None, compare=False)
    primary_key: str = "id"
    cursor_field: str = "lastmodifieddate"
    sorted_by_cursor: bool = True
    lookback: timedelta = LOOKBACK

    def plain_columns(self) -> tuple[str, ...]:
        """The columns sent as they are; a transaction stream's `type` too, so that each row
        says which query it answers."""
        kind = ("type",) if self.transaction_type and "type" not in self.columns else ()
        return (*self.columns, *kind)

    def select_list(self) -> str:
        """The columns, with TO_CHAR around the date and date-time ones (same names)."""
        items = [*self.plain_columns()]
        items += [f"TO_CHAR({c}, '{DATE_MASK}') AS {c}" for c in self.dates]
        items += [f"TO_CHAR({c}, '{DATETIME_MASK}') AS {c}" for c in self.datetimes]
        return ", ".join(items)

    def suiteql(self, window: FetchWindow) -> str:
        """The query for one window; only names checked by `NetSuiteFields` and literals this
        module formats are interpolated."""
        where = []
        if self.transaction_type:
            where.append(f"type = '{self.transaction_type}'")
        if window.since is not None:
            since = wall_clock(window.since, _zone(self.timezone))
            where.append(f"lastmodifieddate >= TO_DATE('{since}', '{FILTER_MASK}')")
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        return (
            f"SELECT {self.select_list()} FROM {self.table}{clause}"  # noqa: S608
            " ORDER BY lastmodifieddate, id"
        )

    def pages(self, window: FetchWindow) -> PageContract:
        """Every page: `count` for itself and `totalResults` for the query, the offset asked
        for, full pages while `hasMore`, rows of this transaction type with no column outside
        the select list and none modified before the window, none read twice. Date-times are
        localised before they are checked."""
        zone = _zone(self.timezone)
        floor = None
        if window.since is not None:
            wall = datetime.strptime(wall_clock(window.since, zone), FILTER_FORMAT)
            floor = wall.replace(tzinfo=zone).astimezone(UTC)

        def rows(payload: Any) -> Any:
            items = payload.get("items") if isinstance(payload, dict) else None
            if not isinstance(items, list):
                return items  # refused by the walk
            return [localize(r, self.datetimes, zone) for r in items]

        selected = {*self.plain_columns(), *self.dates, *self.datetimes, "links"}
        return PageContract(
            self.name,
            rows,
            key=self.primary_key,
            version=self.cursor_field,
            total="totalResults",
            count="count",
            echo=(("offset", "offset"),),
            limit=self.limit,
            full_pages=True,
            columns=frozenset(selected),
            kind=("type", self.transaction_type) if self.transaction_type else None,
            floor=(self.cursor_field, floor) if floor else None,
        )

    def fetch(self, client: httpx.Client, window: FetchWindow) -> Iterator[list[Record]]:
        for page in iter_records(
            client,
            OffsetPaginator(self.limit),
            "POST",
            QUERY_PATH,
            self.pages(window),
            json={"q": self.suiteql(window)},
        ):
            yield self.lookups.resolve(client, page) if self.lookups is not None else page

    def map(self, record: Record) -> Batch:
        return self.mapper(record)


def _text(r: Record, column: str | None) -> str | None:
    return text(r, column) if column else None


def _time(r: Record, column: str | None) -> datetime | None:
    return optional_timestamp(r, column) if column else None


def hours(r: Record, column: str = "hours") -> Decimal | None:
    """A time bill's duration in hours: ``7:30`` (H:MM) → 7.5, ``7.5`` → 7.5 (a duration to
    the millionth of an hour)."""
    value = r.get(column)
    if value is None or value == "":
        return None
    raw = str(value).strip() if isinstance(value, str | int | float) else None
    duration = _DURATION.fullmatch(raw) if raw is not None else None
    if duration is not None:
        minutes = Decimal(duration.group(1)) * 60 + Decimal(duration.group(2))
        return (minutes / 60).quantize(HOURS_PRECISION)
    if raw is not None and _DECIMAL_HOURS.fullmatch(raw):
        return Decimal(raw)
    raise MappingError(f"{column} is neither H:MM nor a number of hours: {value!r:.40}")


def map_customer(r: Record, f: NetSuiteFields) -> Batch:
    """Customer → `account` (the tax id itself is never stored, only whether one is on file)."""
    check_resolved(r)
    return Batch(
        objects=[
            ObjectRow(
                type=ObjectType.ACCOUNT,
                source_system=SYSTEM,
                source_key=required_text(r, "id"),
                customer=text(r, "companyname"),
                legal_entity=text(r, "subsidiary"),
                currency=text(r, "currency"),
                attributes={
                    "entity_id": text(r, "entityid"),
                    "name": text(r, "companyname"),
                    "has_tax_id": _text(r, f.tax_id) is not None,
                },
                source_updated_at=optional_timestamp(r, "lastmodifieddate"),
            )
        ]
    )


def _invoice_ref(key: str) -> EventObject:
    return EventObject(SYSTEM, ObjectType.INVOICE, key, "invoice")


def map_invoice(r: Record, f: NetSuiteFields, kind: str = "invoice") -> Batch:
    """Invoice or credit note → `invoice`, its lifecycle events and links."""
    check_resolved(r)
    key = required_text(r, "id")
    project = _text(r, f.project_code)
    replaces = _text(r, f.replaces)
    credits = _text(r, f.credits)
    batch = Batch(
        objects=[
            ObjectRow(
                type=ObjectType.INVOICE,
                source_system=SYSTEM,
                source_key=key,
                customer=text(r, "entity"),
                legal_entity=text(r, "subsidiary"),
                currency=text(r, "currency"),
                amount=amount(r, "foreigntotal"),
                attributes={
                    "kind": kind,
                    "tranid": text(r, "tranid"),
                    "status": text(r, "status"),
                    "customer_id": text(r, "entity"),
                    "project_code": project,
                    "billing_type": _text(r, f.billing_type),
                    "milestone_id": _text(r, f.milestone),
                    "period_end": _text(r, f.period_end),
                    "trandate": text(r, "trandate"),
                    "replaces": replaces,
                    "credits": credits,
                },
                source_updated_at=optional_timestamp(r, "lastmodifieddate"),
            )
        ]
    )
    related = [_invoice_ref(key)]
    if project:
        related.append(EventObject(f.project_system, ObjectType.PROJECT, project, "project"))
        batch.links.append(
            LinkRow(
                SYSTEM,
                ObjectType.INVOICE,
                key,
                f.project_system,
                ObjectType.PROJECT,
                project,
                LinkQualifier.BILLS,
                SYSTEM,
            )
        )
    if replaces:
        batch.links.append(
            LinkRow(
                SYSTEM,
                ObjectType.INVOICE,
                replaces,
                SYSTEM,
                ObjectType.INVOICE,
                key,
                LinkQualifier.REISSUED_AS,
                SYSTEM,
            )
        )
    if credits:
        batch.links.append(
            LinkRow(
                SYSTEM,
                ObjectType.INVOICE,
                key,
                SYSTEM,
                ObjectType.INVOICE,
                credits,
                LinkQualifier.CREDITS,
                SYSTEM,
            )
        )
    for activity, column in (
        (Activity.INVOICE_CREATED, "createddate"),
        (Activity.INVOICE_POSTED, f.posted_at),
        (Activity.INVOICE_SENT, f.sent_at),
        (Activity.INVOICE_VOIDED, f.voided_at),
    ):
        at = _time(r, column)
        if at is not None:
            batch.events.append(EventRow(activity, at, SYSTEM, key, tuple(related)))
    return batch


def map_payment(r: Record, f: NetSuiteFields) -> Batch:
    """Customer payment → `payment`, `payment.received`, invoice → payment `settled_by`."""
    check_resolved(r)
    key = required_text(r, "id")
    invoice = _text(r, f.applied_invoice)
    batch = Batch(
        objects=[
            ObjectRow(
                type=ObjectType.PAYMENT,
                source_system=SYSTEM,
                source_key=key,
                customer=text(r, "entity"),
                currency=text(r, "currency"),
                amount=amount(r, "foreigntotal"),
                attributes={
                    "tranid": text(r, "tranid"),
                    "applied_invoice": invoice,
                    "trandate": text(r, "trandate"),
                },
                source_updated_at=optional_timestamp(r, "lastmodifieddate"),
            )
        ]
    )
    related = [EventObject(SYSTEM, ObjectType.PAYMENT, key, "payment")]
    if invoice:
        related.append(_invoice_ref(invoice))
        batch.links.append(
            LinkRow(
                SYSTEM,
                ObjectType.INVOICE,
                invoice,
                SYSTEM,
                ObjectType.PAYMENT,
                key,
                LinkQualifier.SETTLED_BY,
                SYSTEM,
            )
        )
    received = optional_timestamp(r, "createddate")
    if received is not None:
        batch.events.append(
            EventRow(Activity.PAYMENT_RECEIVED, received, SYSTEM, key, tuple(related))
        )
    return batch


def map_currency_rate(r: Record) -> Batch:
    """Currency rate → one FX row: `exchangerate` units of the base currency per foreign unit."""
    check_resolved(r)
    rate = amount(r, "exchangerate")
    if rate is None or rate <= 0:
        raise MappingError(f"exchangerate must be a positive number: {r.get('exchangerate')!r:.40}")
    effective = required_text(r, "effectivedate")
    try:
        day = date.fromisoformat(effective[:10])
    except ValueError as exc:
        raise MappingError(f"effectivedate is not a date: {effective!r:.40}") from exc
    return Batch(
        fx_rates=[
            FxRateRow(
                day=day,
                base=required_text(r, "transactioncurrency"),
                quote=required_text(r, "basecurrency"),
                rate=rate,
                source_system=SYSTEM,
            )
        ]
    )


def map_job(r: Record, f: NetSuiteFields) -> Batch:
    """A project (job) → `project`, `project.created`, deal → project `provisions`."""
    check_resolved(r)
    key = required_text(r, "id")
    opportunity = _text(r, f.job_opportunity)
    created_by = text(r, "createdby")
    batch = Batch(
        objects=[
            ObjectRow(
                type=ObjectType.PROJECT,
                source_system=f.job_system,
                source_key=key,
                customer=text(r, "parent") or text(r, "customer"),
                legal_entity=text(r, "subsidiary"),
                owner=text(r, "projectmanager"),
                currency=text(r, "currency"),
                attributes={
                    "name": text(r, "companyname") or text(r, "entityid"),
                    "entity_id": text(r, "entityid"),
                    "status": text(r, "entitystatus"),
                    "crm_opportunity_id": opportunity,
                    "created_by": created_by,
                    "touchless": created_by in f.integration_users,
                    "start_date": text(r, "startdate"),
                },
                source_updated_at=optional_timestamp(r, "lastmodifieddate"),
            )
        ]
    )
    related = [EventObject(f.job_system, ObjectType.PROJECT, key, "project")]
    if opportunity:
        related.append(EventObject(f.crm_system, ObjectType.DEAL, opportunity, "deal"))
        batch.links.append(
            LinkRow(
                f.crm_system,
                ObjectType.DEAL,
                opportunity,
                f.job_system,
                ObjectType.PROJECT,
                key,
                LinkQualifier.PROVISIONS,
                SYSTEM,
            )
        )
    created = optional_timestamp(r, "datecreated")
    if created is not None:
        batch.events.append(
            EventRow(
                Activity.PROJECT_CREATED,
                created,
                f.job_system,
                key,
                tuple(related),
                {"by": created_by},
            )
        )
    return batch


def map_timebill(r: Record, f: NetSuiteFields) -> Batch:
    """A time bill → `work_item`, `work.logged` (and `work.approved`), → project `part_of`."""
    check_resolved(r)
    key = required_text(r, "id")
    spent = hours(r)
    project = text(r, "customer")  # a time bill's customer:project is the job
    invoice = _text(r, f.timebill_invoice)
    status = text(r, "approvalstatus")
    batch = Batch(
        objects=[
            ObjectRow(
                type=ObjectType.WORK_ITEM,
                source_system=SYSTEM,
                source_key=key,
                owner=text(r, "employee"),
                legal_entity=text(r, "subsidiary"),
                attributes={
                    "kind": "time",
                    "project_id": project,
                    "work_date": text(r, "trandate"),
                    "hours": None if spent is None else decimal_text(spent),
                    "billable": flag(r, "isbillable"),
                    "status": status,
                    "invoice_id": invoice,
                },
                source_updated_at=optional_timestamp(r, "lastmodifieddate"),
            )
        ]
    )
    related = [EventObject(SYSTEM, ObjectType.WORK_ITEM, key, "work_item")]
    if project:
        related.append(EventObject(f.job_system, ObjectType.PROJECT, project, "project"))
        batch.links.append(
            LinkRow(
                SYSTEM,
                ObjectType.WORK_ITEM,
                key,
                f.job_system,
                ObjectType.PROJECT,
                project,
                LinkQualifier.PART_OF,
                SYSTEM,
            )
        )
    if invoice:
        batch.links.append(
            LinkRow(
                SYSTEM,
                ObjectType.WORK_ITEM,
                key,
                SYSTEM,
                ObjectType.INVOICE,
                invoice,
                LinkQualifier.BILLED_ON,
                SYSTEM,
            )
        )
    logged = optional_timestamp(r, "datecreated")
    if logged is not None:
        batch.events.append(EventRow(Activity.WORK_LOGGED, logged, SYSTEM, key, tuple(related)))
    approved = _time(r, f.timebill_approved_at)
    if approved is not None and status in f.timebill_approved:
        batch.events.append(EventRow(Activity.WORK_APPROVED, approved, SYSTEM, key, tuple(related)))
    return batch


@dataclass(frozen=True)
class NetSuiteConfig:
    """Where the account's REST API lives, how its custom fields are named, and the time zone
    of its integration user (Set Preferences → Time Zone; SuiteQL answers date-times in it)."""

    base_url: str
    fields: NetSuiteFields = field(default_factory=NetSuiteFields)
    limit: int = 200
    projects: bool = False  # also read projects (jobs) and time bills
    timezone: str = "UTC"  # an IANA name, e.g. America/Los_Angeles
    #: Subsidiary id or name → legal entity code (before the name and country rules).
    legal_entities: Mapping[str, str] = field(default_factory=dict)
    #: The configured legal entities a subsidiary may match by name or country.
    entities: tuple[Entity, ...] = ()

    def __post_init__(self) -> None:
        _zone(self.timezone)
        if not 1 <= self.limit <= 1000:
            raise ValueError(f"limit: SuiteQL pages hold 1 to 1000 rows, not {self.limit}")


def streams(config: NetSuiteConfig) -> list[SuiteQLStream]:
    """The ERP streams, each with the columns its mapper reads (sharing one run's lookups)."""
    f = config.fields
    lookups = Lookups(config.legal_entities, config.entities)

    def stream(
        name: str,
        table: str,
        mapper: Callable[[Record], Batch],
        columns: tuple[str, ...],
        dates: tuple[str, ...] = (),
        datetimes: tuple[str, ...] = ("lastmodifieddate",),
        kind: str | None = None,
    ) -> SuiteQLStream:
        return SuiteQLStream(
            name,
            table,
            mapper,
            columns,
            dates,
            datetimes,
            kind,
            config.timezone,
            config.limit,
            lookups,
        )

    invoice = _columns(
        "id",
        "tranid",
        "entity",
        "subsidiary",
        "currency",
        "foreigntotal",
        "status",
        f.project_code,
        f.billing_type,
        f.milestone,
        f.replaces,
        f.credits,
    )
    invoice_dates = _columns("trandate", f.period_end)
    invoice_times = _columns("createddate", f.posted_at, f.sent_at, f.voided_at, "lastmodifieddate")
    payment = _columns("id", "tranid", "entity", "currency", "foreigntotal", f.applied_invoice)
    created = ("createddate", "lastmodifieddate")
    return [
        stream(
            "customers",
            "customer",
            lambda r: map_customer(r, f),
            _columns("id", "entityid", "companyname", "subsidiary", "currency", f.tax_id),
        ),
        stream(
            "invoices",
            "transaction",
            lambda r: map_invoice(r, f),
            invoice,
            invoice_dates,
            invoice_times,
            "CustInvc",
        ),
        stream(
            "credit_notes",
            "transaction",
            lambda r: map_invoice(r, f, "credit_note"),
            invoice,
            invoice_dates,
            invoice_times,
            "CustCred",
        ),
        stream(
            "payments",
            "transaction",
            lambda r: map_payment(r, f),
            payment,
            ("trandate",),
            created,
            "CustPymt",
        ),
        stream(
            "currency_rates",
            "currencyrate",
            map_currency_rate,
            ("id", "basecurrency", "transactioncurrency", "exchangerate"),
            ("effectivedate",),
        ),
        *(
            [
                stream(
                    "projects",
                    "job",
                    lambda r: map_job(r, f),
                    _columns(
                        "id",
                        "entityid",
                        "companyname",
                        "parent",
                        "subsidiary",
                        "currency",
                        "entitystatus",
                        "projectmanager",
                        "createdby",
                        f.job_opportunity,
                    ),
                    ("startdate",),
                    ("datecreated", "lastmodifieddate"),
                ),
                stream(
                    "time_bills",
                    "timebill",
                    lambda r: map_timebill(r, f),
                    _columns(
                        "id",
                        "employee",
                        "customer",
                        "subsidiary",
                        "hours",
                        "isbillable",
                        "approvalstatus",
                        f.timebill_invoice,
                    ),
                    ("trandate",),
                    _columns("datecreated", f.timebill_approved_at, "lastmodifieddate"),
                ),
            ]
            if config.projects
            else []
        ),
    ]


def collector(
    name: str,
    config: NetSuiteConfig,
    auth: httpx.Auth,
    *,
    transport: httpx.BaseTransport | None = None,
) -> HttpCollector:
    """A NetSuite SuiteQL collector."""
    return HttpCollector(
        name=name,
        source_system=SYSTEM,
        streams=streams(config),
        base_url=config.base_url.rstrip("/") + "/",
        auth=auth,
        transport=transport,
        headers={"Prefer": "transient"},
    )
