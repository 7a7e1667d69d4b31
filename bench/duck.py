"""The baseline: DuckDB computes every KPI of the report from the raw event log in Parquet.

`export_parquet` writes the store's canonical tables (objects, events, event-object relations,
links, sync attempts, FX rates) to Parquet in chunks, untouched except for types: timestamps as
naive UTC, amounts as doubles, attributes as JSON text. `duckdb_report` then derives the case
facts and the KPIs in SQL, written apart from `metrics/` (nothing from `metrics.facts` or
`metrics.kpis` is imported), following docs/kpis.md and the KPI modules' docstrings, and returns
the same figures as `metrics.report.kpi_report` with no filters, so `metrics.report.differences`
can compare the two. Business days use a calendar table built from `holidays`; percentiles are
`quantile_cont` (linear interpolation, as numpy's). FX supports direct and inverse quotes into
the reporting currency (no cross rates), and a fixed-fee invoice's milestone is found by its
key among the milestone objects.
"""

# SQL here is built from this module's own constants and table names; values are bound.
# ruff: noqa: S608
from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import holidays
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine

TABLES: dict[str, tuple[tuple[str, pa.DataType], ...]] = {
    "objects": (
        ("id", pa.int64()),
        ("type", pa.string()),
        ("source_system", pa.string()),
        ("source_key", pa.string()),
        ("customer", pa.string()),
        ("legal_entity", pa.string()),
        ("practice", pa.string()),
        ("currency", pa.string()),
        ("amount", pa.float64()),
        ("attributes", pa.string()),
    ),
    "events": (("id", pa.int64()), ("activity", pa.string()), ("occurred_at", pa.timestamp("us"))),
    "event_objects": (
        ("event_id", pa.int64()),
        ("object_id", pa.int64()),
        ("qualifier", pa.string()),
    ),
    "object_links": (
        ("from_object_id", pa.int64()),
        ("to_object_id", pa.int64()),
        ("qualifier", pa.string()),
    ),
    "sync_attempts": (
        ("source_key", pa.string()),
        ("integration", pa.string()),
        ("flow", pa.string()),
        ("status", pa.string()),
        ("attempt_number", pa.int64()),
        ("trace_key", pa.string()),
        ("started_at", pa.timestamp("us")),
        ("object_id", pa.int64()),
    ),
    "fx_rates": (
        ("day", pa.date32()),
        ("base", pa.string()),
        ("quote", pa.string()),
        ("rate", pa.float64()),
    ),
}
CHUNK = 200_000
DEFAULT_COUNTRIES = {"US": "US", "UK": "GB", "DE": "DE"}
BUCKETS = (("0-30", 30), ("31-60", 60), ("61-90", 90), ("91-120", 120), ("120+", None))


def _column(values: list[Any], type_: pa.DataType) -> pa.Array:
    if pa.types.is_timestamp(type_):
        series = pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601")
        return pa.array(series.dt.tz_convert(None).astype("datetime64[us]"), type_)
    if pa.types.is_date32(type_):
        return pa.array([v if isinstance(v, date) else date.fromisoformat(v) for v in values])
    if pa.types.is_float64(type_):
        return pa.array([None if v is None else float(v) for v in values], type_)
    if type_ == pa.string():
        return pa.array(
            [v if v is None or isinstance(v, str) else json.dumps(v) for v in values], type_
        )
    return pa.array(values, type_)


def export_parquet(engine: Engine, folder: Path) -> dict[str, int]:
    """The canonical tables of `engine` as `folder/<table>.parquet`; rows per table."""
    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    for table, columns in TABLES.items():
        schema = pa.schema(list(columns))
        names = ", ".join(name for name, _ in columns)
        rows = 0
        with (
            engine.connect().execution_options(stream_results=True) as conn,
            pq.ParquetWriter(folder / f"{table}.parquet", schema) as writer,
        ):
            result = conn.exec_driver_sql(f"SELECT {names} FROM {table}")
            for part in result.partitions(CHUNK):
                arrays = [_column([r[i] for r in part], t) for i, (_, t) in enumerate(columns)]
                writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
                rows += len(part)
        counts[table] = rows
    return counts


def calendar(countries: Mapping[str, str], first: date, last: date) -> pd.DataFrame:
    """(country, day, biz, cum): `cum` counts the business days before `day` ('' = weekends)."""
    frames = []
    days = pd.date_range(first, last, freq="D")
    for country in sorted({"", *countries.values()}):
        off = set()
        if country:
            off = set(holidays.country_holidays(country, years=range(first.year, last.year + 1)))
        biz = [d.weekday() < 5 and d.date() not in off for d in days]
        cum = pd.Series(biz, dtype=int).cumsum().shift(1, fill_value=0)
        frames.append(
            pd.DataFrame({"country": country, "day": days.date, "biz": biz, "cum": cum.to_numpy()})
        )
    return pd.concat(frames, ignore_index=True)


def _bd(src: str, start: str, end: str, entity: str) -> str:
    """SQL: `src` with `bd` (business days start → end on the entity's calendar) and `hrs`."""
    return f"""
    SELECT x.*, CASE WHEN x.{start} IS NULL OR x.{end} IS NULL THEN NULL ELSE
      (CASE WHEN x.{end} < x.{start} THEN -1.0 ELSE 1.0 END) * (
        CASE WHEN c1.day = c3.day THEN CASE WHEN c1.biz THEN
          (epoch_us(x._hi) - epoch_us(x._lo)) / 86400000000.0 ELSE 0.0 END
        ELSE (CASE WHEN c1.biz THEN (epoch_us(CAST(c2.day AS TIMESTAMP)) - epoch_us(x._lo))
                   / 86400000000.0 ELSE 0.0 END)
             + (c3.cum - c2.cum)
             + (CASE WHEN c3.biz THEN (epoch_us(x._hi) - epoch_us(CAST(c3.day AS TIMESTAMP)))
                   / 86400000000.0 ELSE 0.0 END)
        END) END AS bd,
      (epoch_us(x.{end}) - epoch_us(x.{start})) / 3.6e9 AS hrs
    FROM (SELECT *, least({start}, {end}) AS _lo, greatest({start}, {end}) AS _hi,
                 coalesce(country_of[coalesce({entity}, '')], '') AS _country FROM {src}) x
    LEFT JOIN cal c1 ON c1.country = x._country AND c1.day = CAST(x._lo AS DATE)
    LEFT JOIN cal c2 ON c2.country = x._country AND c2.day = CAST(x._lo AS DATE) + 1
    LEFT JOIN cal c3 ON c3.country = x._country AND c3.day = CAST(x._hi AS DATE)
    """


def _rate(src: str, currency: str, day: str) -> str:
    """SQL: `src` with `rate`, units of the reporting currency per unit on `day` (≤ 7 days old)."""
    return f"""
    SELECT s.*, CASE WHEN s.{currency} = $reporting THEN 1.0
      WHEN s.{day} - f.day <= 7 THEN f.rate END AS rate
    FROM {src} s ASOF LEFT JOIN fx f ON f.currency = s.{currency} AND s.{day} >= f.day
    """


SETUP = """
CREATE TEMP TABLE ev AS
  SELECT eo.object_id, eo.qualifier, e.activity, e.occurred_at
  FROM 'DIR/events.parquet' e JOIN 'DIR/event_objects.parquet' eo ON eo.event_id = e.id;
CREATE TEMP TABLE firsts AS
  SELECT object_id, qualifier, activity, min(occurred_at) AS first_at, max(occurred_at) AS last_at
  FROM ev GROUP BY ALL;
CREATE TEMP TABLE obj AS SELECT * FROM 'DIR/objects.parquet';
CREATE TEMP TABLE links AS SELECT * FROM 'DIR/object_links.parquet';
CREATE TEMP TABLE fx AS
  WITH direct AS (SELECT base AS currency, day, rate FROM 'DIR/fx_rates.parquet'
                  WHERE quote = $reporting AND rate > 0),
  inverse AS (SELECT quote AS currency, day, 1 / rate AS rate FROM 'DIR/fx_rates.parquet'
              WHERE base = $reporting AND rate > 0)
  SELECT * FROM direct UNION ALL
  SELECT * FROM inverse i WHERE NOT EXISTS (
    SELECT 1 FROM direct d WHERE d.currency = i.currency AND d.day = i.day);
"""

HANDOFFS = """
CREATE TEMP TABLE handoffs AS
WITH stages AS (
  SELECT object_id AS deal_id,
    min(occurred_at) FILTER (activity = 'deal.won') AS won_at,
    max(occurred_at) FILTER (activity = 'deal.won') AS last_won,
    max(occurred_at) FILTER (activity = 'deal.lost') AS last_lost
  FROM ev WHERE qualifier = 'deal' AND activity IN ('deal.won', 'deal.lost', 'deal.reopened')
  GROUP BY 1),
starts AS (
  SELECT l.from_object_id AS deal_id, f.first_at AS created_at,
    CASE WHEN json_type(p.attributes, '$.touchless') = 'BOOLEAN'
         THEN json_extract_string(p.attributes, '$.touchless') = 'true' END AS touchless,
    row_number() OVER (PARTITION BY l.from_object_id
                       ORDER BY f.first_at, coalesce(p.source_key, '')) AS n
  FROM links l
  JOIN firsts f ON f.object_id = l.to_object_id AND f.qualifier = 'project'
    AND f.activity = 'project.created'
  LEFT JOIN obj p ON p.id = l.to_object_id AND p.type = 'project'
  WHERE l.qualifier = 'provisions')
SELECT s.deal_id, d.legal_entity, d.currency, d.amount, s.won_at,
  CASE WHEN json_type(d.attributes, '$.no_project_required') = 'BOOLEAN'
        AND json_extract_string(d.attributes, '$.no_project_required') = 'true'
       THEN 'no_project_required'
       WHEN s.last_lost > s.last_won THEN 'reopened_lost' END AS excluded,
  p.created_at, p.touchless
FROM stages s
LEFT JOIN obj d ON d.id = s.deal_id AND d.type = 'deal'
LEFT JOIN starts p ON p.deal_id = s.deal_id AND p.n = 1
WHERE s.won_at IS NOT NULL;
"""

INVOICES = """
CREATE TEMP TABLE invoices AS
WITH inv AS (
  SELECT id, source_key, legal_entity, currency, amount,
    coalesce(nullif(json_extract_string(attributes, '$.kind'), ''), 'invoice') AS kind,
    json_extract_string(attributes, '$.project_code') AS project_code,
    nullif(json_extract_string(attributes, '$.milestone_id'), '') AS milestone_key,
    try_cast(left(json_extract_string(attributes, '$.period_end'), 10) AS DATE) AS period_end
  FROM obj WHERE type = 'invoice'),
candidates AS (
  SELECT l.from_object_id AS invoice_id, l.to_object_id AS project_id,
    (o.source_key IS NOT DISTINCT FROM i.project_code) AS matching
  FROM links l JOIN inv i ON i.id = l.from_object_id
  LEFT JOIN obj o ON o.id = l.to_object_id
  WHERE l.qualifier = 'bills'),
project_of AS (
  SELECT invoice_id, coalesce(min(project_id) FILTER (matching), min(project_id)) AS project_id
  FROM candidates GROUP BY 1),
reissue AS (SELECT to_object_id AS invoice_id, max(from_object_id) AS reissue_of
            FROM links WHERE qualifier = 'reissued_as' GROUP BY 1),
paid AS (
  SELECT l.from_object_id AS invoice_id, max(f.last_at) AS paid_at
  FROM links l JOIN firsts f ON f.object_id = l.to_object_id AND f.qualifier = 'payment'
    AND f.activity = 'payment.received'
  WHERE l.qualifier = 'settled_by' GROUP BY 1),
lifecycle AS (
  SELECT object_id AS invoice_id,
    min(first_at) FILTER (activity = 'invoice.created') AS created_at,
    min(first_at) FILTER (activity = 'invoice.posted') AS posted_at,
    min(first_at) FILTER (activity = 'invoice.sent') AS sent_at,
    min(first_at) FILTER (activity = 'invoice.voided') AS voided_at
  FROM firsts WHERE qualifier = 'invoice' GROUP BY 1),
approvals AS (
  SELECT l.to_object_id AS invoice_id, max(e.occurred_at) AS last_approved_at
  FROM links l
  JOIN ev e ON e.object_id = l.from_object_id AND e.qualifier = 'work_item'
    AND e.activity = 'work.approved'
  LEFT JOIN lifecycle c ON c.invoice_id = l.to_object_id
  WHERE l.qualifier = 'billed_on' AND (c.posted_at IS NULL OR e.occurred_at <= c.posted_at)
  GROUP BY 1),
accepted AS (
  SELECT i.id AS invoice_id, min(f.first_at) AS accepted_at
  FROM inv i
  LEFT JOIN project_of po ON po.invoice_id = i.id
  LEFT JOIN obj p ON p.id = po.project_id AND p.type = 'project'
  JOIN obj m ON m.type = 'milestone' AND m.source_key = i.milestone_key
    AND m.source_system = coalesce(p.source_system, 'psa')
  JOIN firsts f ON f.object_id = m.id AND f.qualifier = 'milestone'
    AND f.activity = 'milestone.accepted'
  GROUP BY 1)
SELECT i.id, i.kind, i.currency, i.amount,
  coalesce(nullif(p.legal_entity, ''), i.legal_entity) AS legal_entity,
  r.reissue_of, c.created_at, c.posted_at, c.sent_at, c.voided_at, pd.paid_at,
  CASE WHEN i.milestone_key IS NOT NULL THEN a.accepted_at
       ELSE greatest(CAST(i.period_end + 1 AS TIMESTAMP), ap.last_approved_at) END AS trigger_at
FROM inv i
LEFT JOIN project_of po ON po.invoice_id = i.id
LEFT JOIN obj p ON p.id = po.project_id AND p.type = 'project'
LEFT JOIN reissue r ON r.invoice_id = i.id
LEFT JOIN lifecycle c ON c.invoice_id = i.id
LEFT JOIN paid pd ON pd.invoice_id = i.id
LEFT JOIN approvals ap ON ap.invoice_id = i.id
LEFT JOIN accepted a ON a.invoice_id = i.id;
"""

WORK = """
CREATE TEMP TABLE work AS
WITH item AS (
  SELECT id, source_system, currency, amount,
    json_extract_string(attributes, '$.status') AS status,
    nullif(json_extract_string(attributes, '$.project_id'), '') AS project_key,
    try_cast(left(json_extract_string(attributes, '$.work_date'), 10) AS DATE) AS work_date
  FROM obj WHERE type = 'work_item' AND json_type(attributes, '$.billable') = 'BOOLEAN'
    AND json_extract_string(attributes, '$.billable') = 'true'),
times AS (
  SELECT object_id AS id,
    min(first_at) FILTER (activity = 'work.logged') AS logged_at,
    min(first_at) FILTER (activity = 'work.approved') AS approved_at,
    min(first_at) FILTER (activity = 'work.written_off') AS written_off_at
  FROM firsts WHERE qualifier = 'work_item' GROUP BY 1)
SELECT i.id, i.currency, i.amount, i.status, i.work_date, t.logged_at, t.approved_at,
  t.written_off_at
FROM item i LEFT JOIN times t ON t.id = i.id;
CREATE TEMP TABLE billing AS
WITH RECURSIVE chain(item_id, invoice_id) AS (
  SELECT from_object_id, to_object_id FROM links WHERE qualifier = 'billed_on'
  UNION
  SELECT c.item_id, r.from_object_id FROM chain c
  JOIN links r ON r.qualifier = 'reissued_as' AND r.to_object_id = c.invoice_id)
SELECT c.item_id,
  min(f.first_at) FILTER (f.activity = 'invoice.posted') AS posted_at,
  min(f.first_at) FILTER (f.activity = 'invoice.voided') AS voided_at
FROM chain c JOIN firsts f ON f.object_id = c.invoice_id AND f.qualifier = 'invoice'
GROUP BY c.item_id, c.invoice_id;
"""

SYNC = """
CREATE TEMP TABLE att AS
  SELECT *, CAST(started_at AS DATE) AS day, coalesce(trace_key, source_key) AS record,
    attempt_number <= 1 AS first, status = 'failed' AS failed
  FROM 'DIR/sync_attempts.parquet';
CREATE TEMP TABLE traces AS
WITH ranked AS (
  SELECT *, row_number() OVER (PARTITION BY integration, flow, trace_key
    ORDER BY attempt_number DESC, started_at DESC, source_key DESC) AS latest
  FROM att WHERE trace_key IS NOT NULL),
agg AS (
  SELECT integration, flow, trace_key, min(started_at) FILTER (failed) AS first_failed_at,
    max(started_at) AS latest_attempt_at, any_value(status) FILTER (latest = 1) AS latest_status
  FROM ranked GROUP BY ALL)
SELECT a.*, (SELECT min(r.started_at) FROM ranked r WHERE r.integration = a.integration
    AND r.flow = a.flow AND r.trace_key = a.trace_key AND r.status = 'success'
    AND r.started_at > a.first_failed_at) AS resolved_at
FROM agg a WHERE a.first_failed_at IS NOT NULL;
CREATE TEMP TABLE per_day AS
WITH daily AS (
  SELECT integration, flow, day, count(*) FILTER (first AND failed) AS fff
  FROM att GROUP BY ALL),
span AS (SELECT integration, flow, min(day) - 28 AS lo, max(day) AS hi FROM daily GROUP BY ALL),
grid AS (
  SELECT s.integration, s.flow, CAST(d.day AS DATE) AS day
  FROM span s, LATERAL generate_series(s.lo, s.hi, INTERVAL 1 DAY) d(day)),
dense AS (
  SELECT g.integration, g.flow, g.day, coalesce(x.fff, 0) AS fff, x.fff IS NOT NULL AS present
  FROM grid g
  LEFT JOIN daily x ON x.integration = g.integration AND x.flow = g.flow AND x.day = g.day),
windowed AS (
  SELECT *, median(fff) OVER w AS baseline, mad(fff) OVER w AS spread FROM dense
  WINDOW w AS (PARTITION BY integration, flow ORDER BY day
               ROWS BETWEEN 28 PRECEDING AND 1 PRECEDING))
SELECT * , baseline + 3.0 * greatest(1.4826 * spread, 1.0) AS threshold
FROM windowed WHERE present;
"""


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> dict[str, Any]:
    cur = con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})
    names = [d[0] for d in cur.description or ()]
    rows = cur.fetchall()
    return dict(zip(names, rows[0], strict=True))


def _n(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    return float(value)


def duckdb_report(
    folder: Path,
    as_of: datetime,
    *,
    reporting_currency: str = "USD",
    countries: Mapping[str, str] | None = None,
    setup_target: float = 2.0,
    invoice_target: float = 3.0,
    threads: int | None = None,
) -> dict[str, Any]:
    """The KPI figures of `metrics.report.kpi_report` (no filters), from Parquet by DuckDB."""
    countries = dict(countries or DEFAULT_COUNTRIES)
    now = as_of.astimezone(UTC).replace(tzinfo=None)
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    d = str(folder).replace("'", "''")
    params: dict[str, Any] = {
        "reporting": reporting_currency.upper(),
        "now": now,
        "today": now.date(),
    }
    for block in (SETUP, HANDOFFS, INVOICES, WORK, SYNC):
        for statement in block.replace("DIR", d).split(";"):
            if statement.strip():
                con.execute(statement, {k: v for k, v in params.items() if f"${k}" in statement})
    lo, hi = con.execute("SELECT min(occurred_at), max(occurred_at) FROM ev").fetchall()[0]
    first = min((lo or now).date(), now.date()) - timedelta(days=400)
    last = max((hi or now).date(), now.date()) + timedelta(days=400)
    cal = calendar(countries, first, last)
    con.register("cal_frame", cal)
    con.execute("CREATE TEMP TABLE cal AS SELECT * FROM cal_frame")
    country_sql = "(MAP {" + ", ".join(f"'{k}': '{v}'" for k, v in countries.items()) + "})"

    def sql(text: str) -> str:
        return text.replace("country_of", country_sql)

    p = params
    setup = _one(
        con,
        sql(f"""
      WITH closed AS ({
            _bd(
                "(SELECT * FROM handoffs WHERE excluded IS NULL AND won_at <= $now "
                "AND created_at <= $now)",
                "won_at",
                "created_at",
                "legal_entity",
            )
        })
      SELECT count(bd) AS cases, quantile_cont(bd, 0.5) AS p50_business_days,
        quantile_cont(bd, 0.9) AS p90_business_days,
        avg(CASE WHEN bd <= {setup_target} THEN 1.0 ELSE 0.0 END) AS within_target,
        quantile_cont(hrs, 0.5) AS p50_hours, quantile_cont(hrs, 0.9) AS p90_hours,
        count(*) FILTER (touchless) AS touchless
      FROM closed"""),
        p,
    )
    stuck = _one(
        con,
        sql(f"""
      WITH s AS ({
            _bd(
                "(SELECT *, $now AS until FROM handoffs WHERE excluded IS NULL AND "
                "won_at <= $now AND (created_at IS NULL OR created_at > $now))",
                "won_at",
                "until",
                "legal_entity",
            )
        }),
      r AS ({_rate("(SELECT *, CAST($now AS DATE) AS fx_day FROM s)", "currency", "fx_day")})
      SELECT count(*) AS deals, quantile_cont(bd, 0.5) AS p50, max(bd) AS mx,
        sum(amount * rate * (hrs / 24)) AS money_days,
        count(*) FILTER (amount * rate IS NULL) AS unconverted
      FROM r"""),
        p,
    )
    excluded = dict(
        con.execute(
            "SELECT excluded, count(*) FROM handoffs WHERE excluded IS NOT NULL AND won_at <= $now "
            "GROUP BY 1",
            {"now": now},
        ).fetchall()
    )
    cycle = _one(
        con,
        sql(f"""
      WITH counted AS ({
            _bd(
                "(SELECT * FROM invoices WHERE kind <> 'credit_note' AND "
                "NOT coalesce(voided_at <= $now, false) AND trigger_at IS NOT NULL "
                "AND posted_at <= $now)",
                "trigger_at",
                "posted_at",
                "legal_entity",
            )
        }),
      r AS ({
            _rate(
                "(SELECT *, CAST(posted_at AS DATE) AS fx_day FROM counted)", "currency", "fx_day"
            )
        }),
      pay AS (SELECT *, (epoch_us(paid_at) - epoch_us(coalesce(sent_at, posted_at))) / 3.6e9 / 24
                AS days_to_pay FROM r WHERE paid_at <= $now)
      SELECT (SELECT count(bd) FROM r) AS cases,
        (SELECT quantile_cont(bd, 0.5) FROM r) AS p50_business_days,
        (SELECT quantile_cont(bd, 0.9) FROM r) AS p90_business_days,
        (SELECT avg(CASE WHEN bd <= {invoice_target} THEN 1.0 ELSE 0.0 END) FROM r)
          AS within_target,
        (SELECT quantile_cont(hrs, 0.5) FROM r) AS p50_hours,
        (SELECT quantile_cont(hrs, 0.9) FROM r) AS p90_hours,
        (SELECT count(*) FILTER (reissue_of IS NOT NULL) FROM r) AS corrections,
        (SELECT count(*) FROM pay) AS paid,
        (SELECT quantile_cont(days_to_pay, 0.5) FROM pay) AS pay50,
        (SELECT quantile_cont(days_to_pay, 0.9) FROM pay) AS pay90,
        (SELECT sum(amount * rate * (hrs / 24)) FROM r) AS money_days,
        (SELECT count(*) FILTER (amount * rate IS NULL) FROM r) AS unconverted,
        (SELECT count(*) FILTER (voided_at <= $now) FROM invoices) AS voided,
        (SELECT count(*) FILTER (kind = 'credit_note' AND posted_at <= $now) FROM invoices)
          AS credit_notes"""),
        p,
    )
    wip_sql = _rate(
        """(
      SELECT w.*, CAST($now AS DATE) AS fx_day,
        CAST($now AS DATE) - coalesce(work_date, CAST(approved_at AS DATE)) AS age_days
      FROM work w WHERE approved_at <= $now AND NOT coalesce(written_off_at <= $now, false)
        AND NOT EXISTS (SELECT 1 FROM billing b WHERE b.item_id = w.id AND b.posted_at <= $now
                        AND NOT coalesce(b.voided_at <= $now, false)))""",
        "currency",
        "fx_day",
    )
    case = " ".join(
        f"WHEN age_days <= {limit} THEN '{label}'" for label, limit in BUCKETS if limit is not None
    )
    wip_rows = con.execute(
        f"""
      WITH r AS ({wip_sql})
      SELECT CASE {case} ELSE '120+' END AS bucket, count(*) AS items,
        CASE WHEN count(*) FILTER (amount * rate IS NULL) = 0 THEN sum(amount * rate) END AS amt,
        count(*) FILTER (amount * rate IS NULL) AS unconverted,
        sum(amount * rate * age_days) AS money_days
      FROM r GROUP BY 1""",
        {"now": now, "reporting": p["reporting"]},
    ).fetchall()
    by_bucket = {row[0]: row for row in wip_rows}
    parts = {}
    for name, where in (
        ("write_offs", "approved_at <= $now AND written_off_at <= $now"),
        (
            "holds",
            "status = 'on_hold' AND NOT coalesce(approved_at <= $now, false) "
            "AND NOT coalesce(logged_at > $now, false)",
        ),
    ):
        rows = _rate(
            f"(SELECT *, CAST($now AS DATE) AS fx_day FROM work WHERE {where})",
            "currency",
            "fx_day",
        )
        parts[name] = _one(
            con,
            f"""
          SELECT count(*) AS items, CASE WHEN count(*) FILTER (amount * rate IS NULL) = 0
            THEN coalesce(sum(amount * rate), 0.0) END AS amount_rc FROM ({rows})""",
            p,
        )
    sync = _one(
        con,
        """
      SELECT count(*) AS attempts, count(*) FILTER (first) AS first_attempts,
        count(*) FILTER (first AND failed) AS failed_first_attempts,
        count(*) FILTER (NOT first) AS retries, count(*) FILTER (NOT first AND failed)
          AS failed_retries,
        count(DISTINCT record) FILTER (failed) AS failing_records
      FROM att WHERE day <= CAST($now AS DATE)""",
        p,
    )
    spikes = con.execute(
        "SELECT count(*) FROM per_day WHERE day <= CAST($now AS DATE) AND fff >= 5 "
        "AND fff > threshold",
        {"now": now},
    ).fetchall()[0]
    open_ = _one(
        con,
        """
      SELECT count(*) AS records, max((epoch_us($now) - epoch_us(first_failed_at)) / 3.6e9) AS mx
      FROM traces WHERE latest_status = 'failed' AND latest_attempt_at <= $now""",
        p,
    )
    ttr = _one(
        con,
        """
      SELECT count(*) AS resolved,
        quantile_cont((epoch_us(resolved_at) - epoch_us(first_failed_at)) / 3.6e9, 0.5) AS p50,
        quantile_cont((epoch_us(resolved_at) - epoch_us(first_failed_at)) / 3.6e9, 0.9) AS p90
      FROM traces WHERE resolved_at <= $now""",
        p,
    )
    con.close()

    wip_items = sum(row[1] for row in wip_rows)
    wip_unconverted = sum(row[3] for row in wip_rows)
    wip_amount = (
        None if wip_unconverted else float(sum(row[2] for row in wip_rows)) if wip_rows else 0.0
    )
    money = {
        "stuck_handoffs": float(stuck["money_days"] or 0.0),
        "invoicing_delay": float(cycle["money_days"] or 0.0),
        "unbilled_work": float(sum(row[4] or 0.0 for row in wip_rows)),
    }
    cases = setup["cases"]
    invoices = cycle["cases"]
    kpis: dict[str, dict[str, Any]] = {
        "setup_latency": {
            **{
                k: _n(setup[k])
                for k in (
                    "cases",
                    "p50_business_days",
                    "p90_business_days",
                    "within_target",
                    "p50_hours",
                    "p90_hours",
                )
            },
            "target_days": setup_target,
        },
        "stuck_handoffs": {
            "deals": stuck["deals"],
            "p50_age_business_days": _n(stuck["p50"]),
            "max_age_business_days": _n(stuck["mx"]),
            "excluded_no_project": excluded.get("no_project_required", 0),
            "excluded_reopened_lost": excluded.get("reopened_lost", 0),
        },
        "touchless_share": {
            "touchless": setup["touchless"],
            "handoffs": cases,
            "share": setup["touchless"] / cases if cases else None,
        },
        "invoice_cycle": {
            **{
                k: _n(cycle[k])
                for k in (
                    "cases",
                    "p50_business_days",
                    "p90_business_days",
                    "within_target",
                    "p50_hours",
                    "p90_hours",
                )
            },
            "target_days": invoice_target,
        },
        "invoice_correction_rate": {
            "corrections": cycle["corrections"],
            "invoices": invoices,
            "rate": cycle["corrections"] / invoices if invoices else None,
            "voided": cycle["voided"],
            "credit_notes": cycle["credit_notes"],
        },
        "days_to_pay": {
            "paid": cycle["paid"],
            "unpaid": invoices - cycle["paid"],
            "p50_days": _n(cycle["pay50"]),
            "p90_days": _n(cycle["pay90"]),
        },
        "unbilled_wip": {
            "items": wip_items,
            "amount_rc": wip_amount,
            "buckets": {
                label: {
                    "items": by_bucket[label][1] if label in by_bucket else 0,
                    "amount_rc": _n(by_bucket[label][2]) if label in by_bucket else 0.0,
                }
                for label, _ in BUCKETS
            },
            "write_offs": {k: _n(v) for k, v in parts["write_offs"].items()},
            "holds": {k: _n(v) for k, v in parts["holds"].items()},
            "unconverted": wip_unconverted,
        },
        "sync_error_rate": {
            **{k: sync[k] for k in ("attempts", "first_attempts", "failed_first_attempts")},
            "rate": sync["failed_first_attempts"] / sync["first_attempts"]
            if sync["first_attempts"]
            else None,
            "retries": sync["retries"],
            "failed_retries": sync["failed_retries"],
        },
        "sync_failing_records": {"records": sync["failing_records"]},
        "sync_spikes": {"flow_days": spikes[0] if spikes else 0},
        "sync_open_exceptions": {"records": open_["records"], "max_hours_open": _n(open_["mx"])},
        "sync_time_to_resolve": {
            "resolved": ttr["resolved"],
            "p50_hours": _n(ttr["p50"]),
            "p90_hours": _n(ttr["p90"]),
        },
        "cash_impact": {
            "total_money_days": sum(money.values()),
            **money,
            "unconverted": stuck["unconverted"] + cycle["unconverted"] + wip_unconverted,
        },
    }
    return {"as_of": as_of.isoformat(), "reporting_currency": params["reporting"], "kpis": kpis}
