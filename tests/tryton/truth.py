"""The KPIs computed straight from Tryton's records, independently of the collector.

A second, deliberately plain implementation: its own JSON-RPC calls (plain httpx, its own
decoding), its own reading of Tryton's records, and its own business-day arithmetic (a day-by-
day walk over the `holidays` calendar), so that a shared mistake is unlikely. Where Tryton keeps
a fact twice it reads the other copy: posting times from the audit log's `post` button, the
deal a project belongs to from the project's comment that the seed wrote.
"""

from __future__ import annotations

import base64
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import holidays
import httpx


def _hook(obj: dict[str, Any]) -> Any:
    kind = obj.get("__class__")
    if kind == "datetime":
        return datetime(
            obj["year"],
            obj["month"],
            obj["day"],
            obj["hour"],
            obj["minute"],
            obj["second"],
            obj["microsecond"],
            tzinfo=UTC,
        )
    if kind == "date":
        return date(obj["year"], obj["month"], obj["day"])
    if kind == "timedelta":
        return timedelta(seconds=obj["seconds"])
    if kind == "Decimal":
        return Decimal(obj["decimal"])
    return obj


class Rpc:
    """A minimal JSON-RPC client of its own (login once, then calls)."""

    def __init__(self, base_url: str, login: str, password: str) -> None:
        self.url = base_url.rstrip("/") + "/rpc/"
        result = self.call("common.db.login", login, {"password": password})
        raw = f"{login}:{result[0]}:{result[1]}".encode()
        self.auth = "Session " + base64.b64encode(raw).decode()

    def call(self, method: str, *params: Any) -> Any:
        headers = {"Authorization": self.auth} if hasattr(self, "auth") else {}
        answer = httpx.post(
            self.url,
            json={"id": 1, "method": method, "params": list(params)},
            headers=headers,
            timeout=30,
        )
        answer.raise_for_status()
        body = json.loads(answer.content, object_hook=_hook)
        if body.get("error"):
            raise RuntimeError(f"{method}: {body['error']}")
        return body["result"]

    def rows(self, model: str, domain: list[Any], fields: list[str]) -> list[dict[str, Any]]:
        return list(self.call(f"model.{model}.search_read", domain, 0, None, None, fields, {}))


def business_days(start: datetime, end: datetime, country: str = "US") -> float:
    """Business time in [start, end) in days, walking day by day (weekends and holidays off)."""
    if end < start:
        return -business_days(end, start, country)
    off = holidays.country_holidays(country, years=range(start.year, end.year + 1))
    total = timedelta()
    day = start.date()
    while day <= end.date():
        lo = max(start, datetime(day.year, day.month, day.day, tzinfo=UTC))
        hi = min(end, datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1))
        if day.weekday() < 5 and day not in off and hi > lo:
            total += hi - lo
        day += timedelta(days=1)
    return total / timedelta(days=1)


@dataclass(frozen=True)
class Truth:
    """Per-case values, keyed by Tryton ids (as text)."""

    setup: dict[str, tuple[float, float]]  # deal → (business days, calendar hours)
    stuck: set[str]  # won deals with no project
    cycle: dict[str, tuple[float, float]]  # posted invoice → (business days, calendar hours)
    days_to_pay: dict[str, float]  # paid invoice → days from posting to last payment
    waiting: dict[str, float]  # unposted invoice with billed work → hours since its trigger
    unbilled: dict[str, tuple[int, Decimal]]  # time line → (age in days, amount)


WON = {"confirmed", "processing", "done"}


def compute(rpc: Rpc, as_of: datetime) -> Truth:
    """Every expected case value as of `as_of`."""
    opportunities = rpc.rows("sale.opportunity", [], ["id", "number", "state", "sales"])
    sale_log = rpc.rows(
        "ir.model.log",
        [("resource", "like", "sale.sale,%"), ("event", "=", "transition")],
        ["resource", "target", "create_date"],
    )
    confirmed: dict[int, datetime] = {}
    for entry in sale_log:
        if entry["target"].partition(":")[2] in WON:
            sale = int(entry["resource"].split(",")[1])
            confirmed[sale] = min(confirmed.get(sale, entry["create_date"]), entry["create_date"])
    won_at: dict[int, datetime] = {}
    for o in opportunities:
        times = [confirmed[s] for s in o["sales"] if s in confirmed]
        if o["state"] == "won" and times and min(times) <= as_of:
            won_at[o["id"]] = min(times)
    by_number = {o["number"]: o["id"] for o in opportunities}
    projects = rpc.rows(
        "project.work", [("type", "=", "project")], ["id", "comment", "create_date"]
    )
    first_project: dict[int, datetime] = {}
    for p in projects:
        found = re.search(r"Deal (\S+)", p["comment"] or "")
        deal = by_number.get(found.group(1)) if found else None
        if deal is not None and p["create_date"] <= as_of:
            first_project[deal] = min(first_project.get(deal, p["create_date"]), p["create_date"])
    setup = {
        str(d): (business_days(w, first_project[d]), (first_project[d] - w) / timedelta(hours=1))
        for d, w in won_at.items()
        if d in first_project
    }
    stuck = {str(d) for d in won_at if d not in first_project}

    lines = rpc.rows(
        "timesheet.line",
        [],
        ["id", "date", "duration", "create_date", "work.origin", "invoice_line.invoice"],
    )
    works = {
        w["id"]: w for w in rpc.rows("project.work", [], ["id", "invoice_method", "list_price"])
    }
    invoices = {
        i["id"]: i
        for i in rpc.rows(
            "account.invoice", [("type", "=", "out")], ["id", "state", "payment_lines"]
        )
    }
    post_clicks = rpc.rows(
        "ir.model.log",
        [
            ("resource", "like", "account.invoice,%"),
            ("event", "=", "button"),
            ("target", "=", "post"),
        ],
        ["resource", "create_date"],
    )
    posted_at = {int(e["resource"].split(",")[1]): e["create_date"] for e in post_clicks}
    approvals: dict[int, list[datetime]] = defaultdict(list)
    for line in lines:
        invoice = (line.get("invoice_line.") or {}).get("invoice")
        if invoice is not None:
            approvals[invoice].append(line["create_date"])
    cycle = {
        str(i): (
            business_days(max(approvals[i]), at),
            (at - max(approvals[i])) / timedelta(hours=1),
        )
        for i, at in posted_at.items()
        if at <= as_of and approvals.get(i)
    }
    waiting = {
        str(i): (as_of - max(approvals[i])) / timedelta(hours=1)
        for i, inv in invoices.items()
        if i not in posted_at and approvals.get(i) and inv["state"] != "cancelled"
    }
    payment_ids = [p for i in invoices.values() for p in i["payment_lines"]]
    payments = {
        p["id"]: p["create_date"]
        for p in rpc.rows("account.move.line", [("id", "in", payment_ids)], ["id", "create_date"])
    }
    days_to_pay = {
        str(i): (max(payments[p] for p in inv["payment_lines"]) - posted_at[i]) / timedelta(days=1)
        for i, inv in invoices.items()
        if inv["payment_lines"] and i in posted_at
    }

    unbilled: dict[str, tuple[int, Decimal]] = {}
    for line in lines:
        origin = (line.get("work.") or {}).get("origin") or ""
        work = works.get(int(origin.split(",")[1])) if origin.startswith("project.work,") else None
        if work is None or work["invoice_method"] != "timesheet" or line["create_date"] > as_of:
            continue
        invoice = invoices.get((line.get("invoice_line.") or {}).get("invoice"))
        if invoice is not None and posted_at.get(invoice["id"], as_of + timedelta(1)) <= as_of:
            continue
        hours = Decimal(line["duration"].total_seconds()) / 3600
        value = (hours * work["list_price"]).quantize(Decimal("0.01"), ROUND_HALF_UP)
        unbilled[str(line["id"])] = ((as_of.date() - line["date"]).days, value)
    return Truth(setup, stuck, cycle, days_to_pay, waiting, unbilled)
