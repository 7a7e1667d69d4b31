"""Unbilled work (WIP) aging as of any date, in the reporting and the original currency.

As of D: billable work items approved by D, not written off by D, and not on an invoice that
was posted by D and not voided by D (a work item moved from a voided invoice to its re-issue is
billed once the re-issue is posted). Aged in calendar days from the work date (configurable:
approval date; items without a work date are aged from approval and reported) to D's UTC date,
in buckets 0–30, 31–60, 61–90, 91–120 and 120+. Written-off work (by D; for items loaded for
a period, written off since its start) and billable work on hold (never approved, status
`on_hold`, logged by D) are shown apart. Money is converted at
D's rate; an amount with no rate stays NaN (so does every total it is part of) and is reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from metrics.fx import FxIssue, FxTable, load_fx
from metrics.kpis.common import NS, dims_columns, money, naive, utc
from metrics.kpis.declaration import (
    Fact,
    Figure,
    Figures,
    Headline,
    Kpi,
    Scope,
    SloCases,
    SloQuery,
    number,
)
from metrics.kpis.unbilled_rows import ITEM_DIMENSIONS, ITEM_TIMES
from metrics.kpis.unbilled_rows import WorkItems as WorkItems
from metrics.kpis.unbilled_rows import items_query as items_query
from metrics.kpis.unbilled_rows import load_work_items as load_work_items

BUCKETS: tuple[tuple[int | None, str], ...] = (
    (30, "0-30"),
    (60, "31-60"),
    (90, "61-90"),
    (120, "91-120"),
    (None, "120+"),
)
LABELS = [label for _, label in BUCKETS]
AgeFrom = Literal["work_date", "approval"]


@dataclass(frozen=True)
class Bucketed:
    """Items and amounts of a set of work items."""

    items: int
    amount_rc: float


@dataclass(frozen=True)
class UnbilledAging:
    """WIP as of `as_of`: buckets by the chosen dimensions, currencies, and the parts apart."""

    as_of: datetime
    reporting_currency: str
    total: Bucketed
    buckets: pd.DataFrame
    by_currency: pd.DataFrame
    items: pd.DataFrame
    write_offs: Bucketed
    holds: Bucketed
    unconverted: int
    undated: int
    fx_issues: list[FxIssue] = field(default_factory=list)


def bucket_of(age_days: int) -> str:
    """The aging bucket of an age in days (negative ages count as 0–30)."""
    return next(label for limit, label in BUCKETS if limit is None or age_days <= limit)


def _billed(items: WorkItems, as_of: pd.Timestamp) -> pd.Series:
    b = items.billing
    live = (b["posted_at"] <= as_of) & ~(b["voided_at"] <= as_of)
    billed_ids = set(b.loc[live, "work_item_id"])
    return items.items["work_item_id"].isin(billed_ids)


def _convert(frame: pd.DataFrame, fx: FxTable, day: date) -> tuple[pd.Series, list[FxIssue]]:
    values, issues = fx.convert(money(frame["amount"]), list(frame["currency"]), [day] * len(frame))
    return pd.Series(values, index=frame.index), issues


def _total(frame: pd.DataFrame) -> Bucketed:
    """Items and amount; the amount is NaN when any item had no FX rate (never a silent 0)."""
    return Bucketed(len(frame), _sum_or_nan(frame["amount_rc"]) if len(frame) else 0.0)


def unbilled_aging(
    work: WorkItems,
    as_of: datetime,
    *,
    fx: FxTable,
    age_from: AgeFrom = "work_date",
    by: Sequence[str] = (),
) -> UnbilledAging:
    """WIP aging as of `as_of`, bucketed by `by` (e.g. ``("legal_entity", "practice")``)."""
    group = dims_columns(by)
    f = work.items.copy()
    for name in ITEM_TIMES:
        f[name] = utc(f[name])
    now = pd.Timestamp(as_of)
    day = as_of.date()
    approved = f["approved_at"] <= now
    written_off = approved & (f["written_off_at"] <= now)
    reported_offs = written_off
    if work.since is not None:
        reported_offs = written_off & (f["written_off_at"] >= pd.Timestamp(work.since))
    wip = f[approved & ~written_off & ~_billed(work, now)].copy()
    approval_day = wip["approved_at"].dt.tz_convert(None).dt.date
    start = (
        approval_day
        if age_from == "approval"
        else wip["work_date"].where(wip["work_date"].notna(), approval_day)
    )
    wip["age_days"] = [(day - d).days for d in start]
    wip["bucket"] = [bucket_of(a) for a in wip["age_days"]]
    wip["amount_rc"], issues = _convert(wip, fx, day)
    offs = f[reported_offs].copy()
    holds = f[(f["status"] == "on_hold") & ~approved & ~(f["logged_at"] > now)].copy()
    for part in (offs, holds):
        part["amount_rc"], more = _convert(part, fx, day)
        issues += more
    wip["amount"] = money(wip["amount"])
    return UnbilledAging(
        as_of=as_of,
        reporting_currency=fx.reporting,
        total=_total(wip),
        buckets=_buckets(wip, group, "amount_rc"),
        by_currency=_buckets(wip, ["currency"], "amount"),
        items=wip.sort_values("age_days", ascending=False, kind="stable").reset_index(drop=True),
        write_offs=_total(offs),
        holds=_total(holds),
        unconverted=int(wip["amount_rc"].isna().sum()),
        undated=int(wip["work_date"].isna().sum()) if age_from == "work_date" else 0,
        fx_issues=sorted(set(issues), key=lambda i: (i.currency, i.day)),
    )


def _buckets(wip: pd.DataFrame, group: list[str], amount: str) -> pd.DataFrame:
    """Items and amount per group and bucket (every bucket listed for every group)."""
    columns = [*group, "bucket", "items", amount]
    if wip.empty:
        if group:
            return pd.DataFrame(columns=columns)
        return pd.DataFrame({"bucket": LABELS, "items": 0, amount: 0.0})[columns]
    keys = [*group, "bucket"]
    agg = wip.groupby(keys, dropna=False).agg(
        items=("bucket", "size"), total=(amount, lambda s: s.sum(skipna=False))
    )
    groups = wip[group].drop_duplicates() if group else pd.DataFrame(index=[0])
    full = groups.merge(pd.DataFrame({"bucket": LABELS}), how="cross")
    out = full.merge(agg.reset_index(), on=keys, how="left")
    out["items"] = out["items"].fillna(0).astype(int)
    out[amount] = out["total"].where(out["items"] > 0, 0.0)  # NaN stays NaN: a missing rate
    out["bucket"] = pd.Categorical(out["bucket"], LABELS, ordered=True)
    return out.sort_values(keys, kind="stable")[columns].reset_index(drop=True)


def wip_daily(
    work: WorkItems, dates: Sequence[date], *, fx: FxTable, age_from: AgeFrom = "work_date"
) -> pd.DataFrame:
    """The WIP items at 00:00 UTC of each date, in one pass over the work items.

    One row per (date, work item): the same items, ages and converted amounts as
    `unbilled_aging` at that instant, without recomputing a snapshot per date.
    """
    f = work.items
    days = np.array(dates, dtype="datetime64[D]")
    t = days.astype(NS)[None, :]
    approved = naive(f["approved_at"])[:, None]
    wip = (approved <= t) & ~(naive(f["written_off_at"])[:, None] <= t)
    b = work.billing
    if len(b):
        live = (naive(b["posted_at"])[:, None] <= t) & ~(naive(b["voided_at"])[:, None] <= t)
        billed = np.zeros(wip.shape, dtype=bool)
        np.logical_or.at(billed, pd.Index(f["work_item_id"]).get_indexer(b["work_item_id"]), live)
        wip &= ~billed
    rows, cols = np.nonzero(wip)
    start = approved[rows, 0].astype("datetime64[D]")
    if age_from == "work_date":
        worked = pd.to_datetime(f["work_date"]).to_numpy().astype("datetime64[D]")[rows]
        start = np.where(np.isnat(worked), start, worked)
    out = f.iloc[rows][["work_item_id", "work_item_key", *ITEM_DIMENSIONS, "currency"]]
    out = out.reset_index(drop=True)
    out.insert(0, "as_of", [dates[int(c)] for c in cols])
    out["amount"] = money(f["amount"])[rows]
    out["age_days"] = (days[cols] - start).astype(int)
    out["bucket"] = pd.Categorical([bucket_of(a) for a in out["age_days"]], LABELS, ordered=True)
    out["amount_rc"], _ = fx.convert(out["amount"], list(out["currency"]), list(out["as_of"]))
    return out


def wip_over_time(
    work: WorkItems, dates: Sequence[date], *, fx: FxTable, age_from: AgeFrom = "work_date"
) -> pd.DataFrame:
    """WIP at 00:00 UTC of each date: items, amount and amount per bucket (reporting currency).

    An amount is NaN when an item of that date had no FX rate (never a silent 0)."""
    daily = wip_daily(work, dates, fx=fx, age_from=age_from)
    index = pd.Index(list(dates), name="as_of")
    if daily.empty:
        return pd.DataFrame(
            {"as_of": list(dates), "items": 0, "amount_rc": 0.0, **dict.fromkeys(LABELS, 0.0)}
        )
    by_date = daily.groupby("as_of")["amount_rc"]
    per_bucket = daily.groupby(["as_of", "bucket"], observed=False)["amount_rc"].agg(_sum_or_nan)
    out = pd.DataFrame(
        {
            "items": by_date.size().reindex(index, fill_value=0),
            "amount_rc": by_date.agg(_sum_or_nan).reindex(index, fill_value=0.0),
            **{
                label: per_bucket.xs(label, level="bucket").reindex(index, fill_value=0.0)
                for label in LABELS
            },
        }
    )
    return out.reset_index()


def _sum_or_nan(values: pd.Series) -> float:
    """A sum that stays NaN when any value is NaN (an amount without an FX rate)."""
    return float(values.sum(skipna=False))


# The declaration (metrics.kpis.declaration): how Throughline reads, reports and shows it.

#: The age up to which unbilled work is good for its SLO (value-weighted daily snapshots).
SLO_LIMIT_DAYS = 60


def _load(engine: Engine, scope: Scope) -> WorkItems:
    return load_work_items(engine, scope.filters, until=scope.at, since=scope.filters.start_at)


def _compute(work: WorkItems, scope: Scope) -> UnbilledAging:
    return unbilled_aging(work, scope.at, fx=scope.rates())


def _slo_cases(engine: Engine, query: SloQuery) -> SloCases:
    """Daily value-weighted snapshots (good while at most 60 days old) and the items now
    unbilled, each due 60 days after its work date."""
    last = query.as_of.date()
    days = [last - timedelta(days=n) for n in range((last - query.since.date()).days, -1, -1)]
    work = load_work_items(engine, until=query.as_of, since=_midnight(days[0]))
    fx = load_fx(engine, query.reporting_currency, days[0], last)
    daily = wip_daily(work, days, fx=fx)
    daily = daily[daily["amount_rc"] > 0]  # NaN (no FX rate) is reported by the KPI
    daily = daily.assign(good=daily["age_days"] <= SLO_LIMIT_DAYS)
    # One case per day, group and verdict weighing the summed value: the same budget and
    # burn as one per item, without materialising thousands of records.
    keys = ["as_of", "good", *ITEM_DIMENSIONS]
    summed = daily.groupby(keys, dropna=False, observed=True)["amount_rc"].sum().reset_index()
    decided = summed.assign(at=[_midnight(d) for d in summed["as_of"]], weight=summed["amount_rc"])
    items = unbilled_aging(work, query.as_of, fx=fx).items
    items = items[items["amount_rc"].notna()]
    since = [_start_of(r) for r in items.to_dict("records")]
    waiting = items.assign(
        key=items["work_item_key"],
        since=since,
        deadline=[s + timedelta(days=SLO_LIMIT_DAYS) for s in since],
        weight=[float(a) or 1.0 for a in items["amount_rc"]],
    )
    return SloCases(decided, waiting)


def _start_of(row: dict[str, Any]) -> datetime:
    day: date = row["work_date"] if pd.notna(row.get("work_date")) else row["approved_at"].date()
    return _midnight(day)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC)


def _report(r: UnbilledAging) -> Figures:
    buckets = r.buckets.set_index(r.buckets["bucket"].astype(str))
    return {
        **_bucketed(r.total),
        "buckets": {
            label: {
                "items": int(buckets.loc[label, "items"]) if label in buckets.index else 0,
                "amount_rc": number(buckets.loc[label, "amount_rc"])
                if label in buckets.index
                else 0.0,
            }
            for label in LABELS
        },
        "write_offs": _bucketed(r.write_offs),
        "holds": _bucketed(r.holds),
        "unconverted": r.unconverted,
    }


def _bucketed(b: Bucketed) -> Figures:
    return {"items": b.items, "amount_rc": number(b.amount_rc)}


def _tile(r: UnbilledAging) -> Headline:
    old = r.buckets.loc[r.buckets["bucket"].astype(str).isin(["61-90", "91-120", "120+"])]
    total = r.total.amount_rc
    old_share = float(old["amount_rc"].sum()) / total if total else None
    return Headline(
        total,
        "money",
        (
            Fact("items", r.total.items, "count"),
            Fact("older than 60 days", old_share, "share"),
            Fact("written off in the period", r.write_offs.amount_rc, "money"),
        ),
    )


KPI: Kpi[UnbilledAging] = Kpi(
    name="unbilled",
    load=_load,
    compute=_compute,
    sources=frozenset({"psa", "erp", "tryton"}),
    figures=(
        Figure(
            "unbilled_wip",
            "Unbilled work (WIP) aging",
            unit="reporting currency, by age bucket",
            audience="CFO",
            definition="Approved billable work not on a posted invoice, aged from the work "
            "date in buckets 0–30, 31–60, 61–90, 91–120, 120+ days; write-offs and holds apart.",
            page="unbilled",
            report=_report,
            tile=_tile,
            slo=_slo_cases,
        ),
    ),
)
