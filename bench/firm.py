"""The generated firm's make-up: its timeline (history up to the cut, then the appended days),
its source systems, legal entities, practices and integration flows, the sync errors they raise,
and its daily FX rates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from store.canonical import Activity, ErrorClass, FxRateRow, LinkQualifier, ObjectType

START = datetime(2023, 1, 2, tzinfo=UTC)
HISTORY_DAYS = 3 * 364
APPEND_DAYS = 11
CUT = START + timedelta(days=HISTORY_DAYS)
END = CUT + timedelta(days=APPEND_DAYS)
COLLECTOR, STREAM = "bench", "firm"

CRM, PSA, ERP, IPAAS = "crm", "psa", "erp", "ipaas"
T = ObjectType
A = Activity
Q = LinkQualifier
ENTITIES = (("US", "USD"), ("UK", "GBP"), ("DE", "EUR"))
ENTITY_WEIGHTS = (0.5, 0.3, 0.2)
PRACTICES = ("Cloud", "Data", "Security", "ERP", "Strategy", "Digital")
RATES = {"GBP": 1.27, "EUR": 1.09}
ERRORS = (
    (ErrorClass.VALIDATION, "Required field <field> is missing on record <id>"),
    (ErrorClass.TIMEOUT, "Read timed out after <n> ms"),
    (ErrorClass.RATE_LIMIT, "429 Too Many Requests: retry after <n> s"),
    (ErrorClass.DUPLICATE, "Duplicate external id <id>"),
    (ErrorClass.AUTH, "401 Unauthorized: token expired"),
    (ErrorClass.CONNECTION, "Connection reset by peer"),
)
PROVISION, POST_TIME, INVOICE_STATUS = (
    ("crm-psa", "crm-psa/project_provisioning", CRM, T.DEAL),
    ("psa-erp", "psa-erp/time_posting", PSA, T.WORK_ITEM),
    ("erp-crm", "erp-crm/invoice_status", ERP, T.INVOICE),
)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
SPAN_SECONDS = (HISTORY_DAYS + APPEND_DAYS) * 86400
TAIL_DAYS = 500  # no row comes later than this after its deal's win


def fx_rows(first: date | None = None, last: date | None = None) -> list[FxRateRow]:
    """Weekday GBP and EUR rates into USD (weekends use Friday's, as the KPIs allow)."""
    out = []
    day = first or START.date()
    last = last or END.date()
    n = 0
    while day <= last:
        if day.weekday() < 5:
            for currency, base in RATES.items():
                drift = 1 + 0.05 * ((n * 7919 + len(currency)) % 101 - 50) / 50
                out.append(FxRateRow(day, currency, "USD", Decimal(f"{base * drift:.6f}"), ERP))
        day += DAY
        n += 1
    return out
