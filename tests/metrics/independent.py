"""A second implementation of the KPIs, written apart from `metrics/` to check it.

Durations come from pm4py (AGPL: a test-only cross-check) on the OCEL 2.0 export: its business
hours with a Monday–Friday 24-hour schedule and a work calendar of the entity's public holidays.
Case boundaries are read from the OCEL's event-to-object relations (the product reads the
object-to-object links). Money, aging and sync counters are plain pandas over the raw store
tables (the product reads its case-fact tables). Nothing here imports `metrics.kpis`,
`metrics.facts`, `foundation.business_time` or `metrics.fx`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import holidays
import numpy as np
import pandas as pd
from sqlalchemy import Engine

COUNTRY = {"US": "US", "UK": "GB", "DE": "DE"}
WEEKDAYS = [(d * 86400, (d + 1) * 86400) for d in range(5)]  # Mon–Fri, all day
BUCKETS = [(30, "0-30"), (60, "31-60"), (90, "61-90"), (120, "91-120"), (10**9, "120+")]


class HolidayCalendar:
    """pm4py work calendar: a day works unless it is a public holiday of the country."""

    def __init__(self, country: str | None) -> None:
        self.days = holidays.country_holidays(country, years=range(2024, 2028)) if country else {}

    def is_working_day(self, day: date) -> bool:
        return day not in self.days


def _pm4py() -> Any:
    import pm4py

    return pm4py


def business_days(start: datetime, end: datetime, entity: str | None) -> float:
    """pm4py's business-hours difference on 24-hour weekdays minus holidays, in days."""
    from pm4py.util.business_hours import soj_time_business_hours_diff

    cal = HolidayCalendar(COUNTRY.get(entity or ""))
    return float(soj_time_business_hours_diff(start, end, WEEKDAYS, cal)) / 86400


def read_ocel(path: str) -> Any:
    return _pm4py().read_ocel2_json(path)


def _ns(series: pd.Series) -> pd.Series:
    # pm4py computes with int64 nanoseconds; pandas 3 would hand it microseconds otherwise.
    return pd.to_datetime(series, utc=True).astype("datetime64[ns, UTC]")


def case_durations(log: pd.DataFrame, entity: str | None) -> pd.DataFrame:
    """pm4py case descriptions (business seconds and calendar seconds) for a 2-event-per-case log."""
    from pm4py.statistics.traces.generic.pandas import case_statistics as cs

    log = log.assign(**{"time:timestamp": _ns(log["time:timestamp"])})
    log = log.sort_values(["case:concept:name", "time:timestamp"], kind="stable")
    base = {
        cs.Parameters.CASE_ID_KEY: "case:concept:name",
        cs.Parameters.TIMESTAMP_KEY: "time:timestamp",
        cs.Parameters.ENABLE_SORT: False,
    }
    business = cs.get_cases_description(
        log,
        {
            **base,
            cs.Parameters.BUSINESS_HOURS: True,
            cs.Parameters.BUSINESS_HOUR_SLOTS: WEEKDAYS,
            cs.Parameters.WORKCALENDAR: HolidayCalendar(COUNTRY.get(entity or "")),
        },
    )
    calendar = cs.get_cases_description(log, base)
    return pd.DataFrame(
        {
            "case": list(business),
            "business_days": [v["caseDuration"] / 86400 for v in business.values()],
            "calendar_hours": [calendar[k]["caseDuration"] / 3600 for k in business],
        }
    )


def _two_event_log(starts: pd.Series, ends: pd.Series) -> pd.DataFrame:
    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "case:concept:name": starts.index,
                    "concept:name": "start",
                    "time:timestamp": list(starts),
                }
            ),
            pd.DataFrame(
                {
                    "case:concept:name": ends.index,
                    "concept:name": "end",
                    "time:timestamp": list(ends),
                }
            ),
        ]
    )
    return frame.reset_index(drop=True)


def durations(starts: pd.Series, ends: pd.Series, entities: pd.Series) -> pd.DataFrame:
    """Business days and calendar hours per case (indexes are case ids), via pm4py."""
    out = []
    for entity in sorted(set(entities.dropna())):
        cases = entities.index[entities == entity]
        out.append(case_durations(_two_event_log(starts[cases], ends[cases]), entity))
    return pd.concat(out).set_index("case")


def quantiles(values: Any) -> tuple[float, float]:
    s = pd.Series(values, dtype=float).dropna()
    return float(s.quantile(0.5)), float(s.quantile(0.9))


# --- setup latency: pm4py on the OCEL flattened by deal ------------------------------------


@dataclass
class Handoffs:
    cases: pd.DataFrame  # index deal oid: won, created, business_days, calendar_hours, touchless
    stuck: pd.DataFrame  # index deal oid: won, age_business_days


def handoffs(ocel: Any, as_of: datetime) -> Handoffs:
    flat = _pm4py().ocel_flattening(ocel, "deal")
    flat = flat[flat["time:timestamp"] <= pd.Timestamp(as_of)]
    deals = ocel.objects[ocel.objects["ocel:type"] == "deal"].set_index("ocel:oid")
    stages = flat[flat["concept:name"].isin(["deal.won", "deal.lost"])]
    stages = stages.sort_values(["case:concept:name", "time:timestamp", "concept:name"])
    last_outcome = stages.groupby("case:concept:name")["concept:name"].last()
    won = (
        flat[flat["concept:name"] == "deal.won"]
        .groupby("case:concept:name")["time:timestamp"]
        .min()
    )
    created_events = flat[flat["concept:name"] == "project.created"]
    created = created_events.groupby("case:concept:name")["time:timestamp"].min()
    no_project = deals["no_project_required"].astype(str).str.lower() == "true"
    keep = [
        d for d in won.index if last_outcome.get(d) == "deal.won" and not no_project.get(d, False)
    ]
    won = won[keep]
    entity = deals["legal_entity"].reindex(won.index)
    closed = won.index.intersection(created.index)
    cases = durations(won[closed], created[closed], entity[closed])
    cases["won"], cases["created"] = won[closed], created[closed]
    # the first project: the one whose created event is the earliest one related to the deal
    first_project = (
        created_events.sort_values("time:timestamp")
        .groupby("case:concept:name")["ocel:eid"]
        .first()
    )
    rel = ocel.relations
    projects = rel[(rel["ocel:qualifier"] == "project") & rel["ocel:eid"].isin(first_project)]
    project_of = projects.set_index("ocel:eid")["ocel:oid"]
    objects = ocel.objects.set_index("ocel:oid")
    cases["touchless"] = [
        str(objects.loc[project_of[first_project[d]], "touchless"]).lower() == "true"
        for d in cases.index
    ]
    open_ = won.index.difference(closed)
    stuck = pd.DataFrame({"won": won[open_]})
    stuck["age_business_days"] = [
        business_days(w.to_pydatetime(), as_of, entity[d]) for d, w in stuck["won"].items()
    ]
    stuck["age_hours"] = [(as_of - w.to_pydatetime()) / timedelta(hours=1) for w in stuck["won"]]
    return Handoffs(cases, stuck)


# --- invoice cycle: pandas on the OCEL tables, pm4py for durations ---------------------------


def invoices(ocel: Any, as_of: datetime) -> pd.DataFrame:
    """Counted invoices (index invoice oid) with trigger, posted, durations, days to pay."""
    rel, o2o = ocel.relations, ocel.o2o
    rel = rel[rel["ocel:timestamp"] <= pd.Timestamp(as_of)]
    objs = ocel.objects.set_index("ocel:oid")
    inv = objs[objs["ocel:type"] == "invoice"]

    def first(activity: str, qualifier: str) -> pd.Series:
        r = rel[(rel["ocel:activity"] == activity) & (rel["ocel:qualifier"] == qualifier)]
        return r.groupby("ocel:oid")["ocel:timestamp"].min()

    posted, sent, voided = (first(f"invoice.{a}", "invoice") for a in ("posted", "sent", "voided"))
    paid = rel[(rel["ocel:activity"] == "payment.received") & (rel["ocel:qualifier"] == "invoice")]
    paid = paid.groupby("ocel:oid")["ocel:timestamp"].max()
    approvals = rel[
        (rel["ocel:activity"] == "work.approved") & (rel["ocel:qualifier"] == "work_item")
    ]
    billed = o2o[o2o["ocel:qualifier"] == "billed_on"].rename(
        columns={"ocel:oid": "item", "ocel:oid_2": "invoice"}
    )
    approvals = billed.merge(approvals.rename(columns={"ocel:oid": "item"}), on="item")
    approvals = approvals.merge(posted.rename("posted"), left_on="invoice", right_index=True)
    approvals = approvals[approvals["ocel:timestamp"] <= approvals["posted"]]
    last_approval = approvals.groupby("invoice")["ocel:timestamp"].max()
    accepted = first("milestone.accepted", "milestone")
    reissues = set(o2o.loc[o2o["ocel:qualifier"] == "reissued_as", "ocel:oid_2"])
    rows = []
    for oid, o in inv.iterrows():
        if o.get("kind") == "credit_note" or oid not in posted.index:
            continue
        if oid in voided.index:
            continue
        milestone = o.get("milestone_id")
        if isinstance(milestone, str) and milestone:
            trigger = accepted.get(f"milestone:psa:{milestone}")
        else:
            parts = [pd.Timestamp(o["period_end"]).tz_localize("UTC") + pd.Timedelta(days=1)]
            if oid in last_approval.index:
                parts.append(last_approval[oid])
            trigger = max(parts)
        if trigger is None or pd.isna(trigger):
            continue
        rows.append(
            {
                "oid": oid,
                "trigger": trigger,
                "posted": posted[oid],
                "sent": sent.get(oid),
                "paid": paid.get(oid),
                "entity": o["legal_entity"],
                "currency": o["currency"],
                "amount": float(o["amount"]),
                "reissue": oid in reissues,
            }
        )
    frame = pd.DataFrame(rows).set_index("oid")
    d = durations(frame["trigger"], frame["posted"], frame["entity"])
    frame = frame.join(d)
    since = frame["sent"].where(frame["sent"].notna(), frame["posted"])
    frame["days_to_pay"] = (
        pd.to_datetime(frame["paid"], utc=True) - pd.to_datetime(since, utc=True)
    ) / pd.Timedelta(days=1)
    return frame


# --- money: pandas on the raw store tables ----------------------------------------------------


def read(engine: Engine, sql: str) -> pd.DataFrame:
    """Plain SQL into a DataFrame (driver values: no model types involved)."""
    with engine.connect() as conn:
        result = conn.exec_driver_sql(sql)
        return pd.DataFrame(result.all(), columns=list(result.keys()))


def fx_rates(engine: Engine, reporting: str = "USD") -> pd.DataFrame:
    """Daily rates into the reporting currency, one row per currency and day."""
    fx = read(engine, "SELECT day, base, quote, rate FROM fx_rates")
    fx = fx[fx["quote"] == reporting].rename(columns={"base": "currency"})
    fx["day"] = pd.to_datetime(fx["day"])
    fx["rate"] = fx["rate"].astype(float)
    return fx[["currency", "day", "rate"]].sort_values("day")


def to_reporting(
    amounts: pd.DataFrame, fx: pd.DataFrame, day: date, reporting: str = "USD"
) -> pd.Series:
    """`amount` in `currency` → reporting currency at the rate of `day` (or up to 7 days before)."""
    rates = {}
    for currency in set(amounts["currency"]):
        if currency == reporting:
            rates[currency] = 1.0
            continue
        known = fx[
            (fx["currency"] == currency)
            & (fx["day"] <= pd.Timestamp(day))
            & (fx["day"] >= pd.Timestamp(day) - pd.Timedelta(days=7))
        ]
        rates[currency] = float(known.iloc[-1]["rate"]) if len(known) else np.nan
    return amounts["amount"].astype(float) * amounts["currency"].map(rates)


def unbilled(engine: Engine, as_of: datetime) -> pd.DataFrame:
    """WIP items as of `as_of` with age bucket and reporting-currency amount, from raw tables."""
    items = read(
        engine,
        "SELECT id, source_key, currency, amount, attributes FROM objects WHERE type = 'work_item'",
    )
    attrs = items["attributes"].map(lambda a: a if isinstance(a, dict) else json.loads(a or "{}"))
    items["billable"] = attrs.map(lambda a: a.get("billable") is True)
    items["work_date"] = attrs.map(lambda a: a.get("work_date"))
    items = items[items["billable"]]
    ev = read(
        engine,
        """
        SELECT eo.object_id AS id, e.activity, e.occurred_at FROM events e
        JOIN event_objects eo ON eo.event_id = e.id
        WHERE e.activity IN ('work.approved', 'work.written_off', 'invoice.posted', 'invoice.voided')
    """,
    )
    ev["occurred_at"] = pd.to_datetime(ev["occurred_at"], utc=True)
    firsts = ev.groupby(["id", "activity"])["occurred_at"].min().unstack()
    now = pd.Timestamp(as_of)
    approved = firsts["work.approved"].reindex(items["id"]).to_numpy()
    written = firsts["work.written_off"].reindex(items["id"]).to_numpy()
    items = items.assign(approved=approved, written_off=written)
    items = items[(items["approved"] <= now) & ~(items["written_off"] <= now)]
    links = read(
        engine,
        "SELECT from_object_id, to_object_id, qualifier FROM object_links WHERE qualifier IN ('billed_on', 'reissued_as')",
    )
    billed_on = links[links["qualifier"] == "billed_on"][["from_object_id", "to_object_id"]]
    reissued = links[links["qualifier"] == "reissued_as"]
    previous = reissued.rename(columns={"from_object_id": "old", "to_object_id": "to_object_id"})
    chain = pd.concat(
        [
            billed_on,
            billed_on.merge(previous[["old", "to_object_id"]], on="to_object_id")
            .drop(columns="to_object_id")
            .rename(columns={"old": "to_object_id"}),
        ]
    )
    posted = firsts.get("invoice.posted")
    voided = firsts.get("invoice.voided")
    chain["posted"] = chain["to_object_id"].map(posted)
    chain["voided"] = chain["to_object_id"].map(voided)
    live = chain[(chain["posted"] <= now) & ~(chain["voided"] <= now)]
    items = items[~items["id"].isin(set(live["from_object_id"]))].copy()
    day = as_of.date()
    start = [
        date.fromisoformat(w) if isinstance(w, str) and w else a.date()
        for w, a in zip(
            items["work_date"], pd.to_datetime(items["approved"], utc=True), strict=True
        )
    ]
    items["age"] = [(day - s).days for s in start]
    items["bucket"] = [next(lbl for lim, lbl in BUCKETS if a <= lim) for a in items["age"]]
    items["amount_rc"] = to_reporting(items, fx_rates(engine), day).to_numpy()
    return items.set_index("source_key")


# --- sync: pandas on the raw sync_attempts table ----------------------------------------------


def sync(engine: Engine, as_of: datetime) -> dict[str, Any]:
    a = read(
        engine,
        "SELECT integration, flow, status, attempt_number, error_class, trace_key, source_key, started_at FROM sync_attempts",
    )
    a["started_at"] = pd.to_datetime(a["started_at"], utc=True)
    a = a[a["started_at"] <= pd.Timestamp(as_of)]
    a["day"] = a["started_at"].dt.tz_convert(None).dt.date
    a["record"] = a["trace_key"].where(a["trace_key"].notna(), a["source_key"])
    first = a["attempt_number"] <= 1
    failed = a["status"] == "failed"
    by_day = (
        pd.DataFrame(
            {
                "attempts": a.groupby(["day", "integration", "flow"]).size(),
                "first_attempts": a[first].groupby(["day", "integration", "flow"]).size(),
                "failed_first_attempts": a[first & failed]
                .groupby(["day", "integration", "flow"])
                .size(),
                "retries": a[~first].groupby(["day", "integration", "flow"]).size(),
                "failing_records": a[failed]
                .groupby(["day", "integration", "flow"])["record"]
                .nunique(),
            }
        )
        .fillna(0)
        .astype(int)
    )
    traced = a[a["trace_key"].notna()].sort_values(["trace_key", "started_at", "attempt_number"])
    latest = traced.groupby("trace_key").last()
    first_fail = traced[traced["status"] == "failed"].groupby("trace_key")["started_at"].min()
    ok = traced[traced["status"] == "success"].merge(
        first_fail.rename("ff"), left_on="trace_key", right_index=True
    )
    resolved = (
        ok[ok["started_at"] > ok["ff"]]
        .groupby("trace_key")
        .agg(at=("started_at", "min"), ff=("ff", "first"))
    )
    return {
        "by_day": by_day,
        "attempts": len(a),
        "first_attempts": int(first.sum()),
        "failed_first_attempts": int((first & failed).sum()),
        "retries": int((~first).sum()),
        "failing_records": a.loc[failed, "record"].nunique(),
        "classes": a[failed].groupby("error_class").size(),
        "open": set(latest.index[latest["status"] == "failed"]),
        "ttr_hours": ((resolved["at"] - resolved["ff"]) / pd.Timedelta(hours=1)).to_numpy(),
    }
