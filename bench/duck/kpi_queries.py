"""The KPI figures computed by DuckDB from the derived tables, one query or a few per KPI area:
handoffs (setup latency, stuck handoffs, touchless share), invoices (cycle, corrections, days to
pay), unbilled work, and sync errors. Business days and FX conversion are SQL fragments here."""

# SQL here is built from this module's own constants and table names; values are bound.
# ruff: noqa: S608
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import duckdb

BUCKETS = (("0-30", 30), ("31-60", 60), ("61-90", 90), ("91-120", 120), ("120+", None))


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


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> dict[str, Any]:
    cur = con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})
    names = [d[0] for d in cur.description or ()]
    rows = cur.fetchall()
    return dict(zip(names, rows[0], strict=True))


def handoff_figures(
    con: duckdb.DuckDBPyConnection,
    sql: Callable[[str], str],
    p: dict[str, Any],
    now: datetime,
    setup_target: float,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Setup latency and touchless handoffs, stuck handoffs, and the deals excluded, by reason."""
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
    return setup, stuck, excluded


def invoice_figures(
    con: duckdb.DuckDBPyConnection,
    sql: Callable[[str], str],
    p: dict[str, Any],
    invoice_target: float,
) -> dict[str, Any]:
    """The invoice cycle, corrections, days to pay and delay's money-days, in one row."""
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
    return cycle


def unbilled_figures(
    con: duckdb.DuckDBPyConnection, p: dict[str, Any], now: datetime
) -> tuple[list[Any], dict[Any, Any], dict[str, dict[str, Any]]]:
    """Unbilled work by age bucket (rows and rows by bucket), write-offs and holds."""
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
    return wip_rows, by_bucket, parts


def sync_figures(
    con: duckdb.DuckDBPyConnection, p: dict[str, Any], now: datetime
) -> tuple[dict[str, Any], Any, dict[str, Any], dict[str, Any]]:
    """Sync attempts and failures, spike days, open exceptions and time to resolve."""
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
    return sync, spikes, open_, ttr
