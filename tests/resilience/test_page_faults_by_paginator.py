"""Every page fault on every paginator kind: the stream fails by name, the next run completes.

The seeded schedules (``test_fault_schedules``, ``test_vendor_fault_schedules``) mix faults at
random; here each page fault meets each paginator kind it can apply to, alone: an empty page
mid-walk, a stale page, a server restarting its paging, a page of another query and a wrong
total, on the Salesforce-style next URLs (demo CRM), PSA and iPaaS page tokens, NetSuite-style
offsets (demo ERP), HubSpot's token in the body, n8n's cursor and Tryton's keyset. The one
collector runs once through the proxy (one fault), then once more: the first run fails (never
``success``) with one sentence naming the stream and the reason, nothing is quarantined, and
after the second the store equals a fault-free collection row for row, cursors included.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine

from collectors.base import Collector
from collectors.demo_estate.server import DemoEstateServer
from collectors.runner import run_collector
from metrics.facts import refresh_pending
from tests.collectors.conftest import TOKEN
from tests.resilience.flaky_proxy import Fault, FaultSchedule, FlakyProxy, Kind
from tests.resilience.page_shapes import VENDOR_SHAPES
from tests.resilience.schedules import (
    Baseline,
    Run,
    assert_converged,
    baseline_of,
    new_store,
)
from tests.resilience.test_fault_schedules import through
from tests.resilience.vendor_router import SECRETS, VendorRouter, vendor_collectors
from tests.tryton.conftest import TrytonServer

#: What the failing stream's sentence says, per fault.
SAYS = {
    Kind.EMPTY_PAGE: ("is empty yet points to a next page; following it would skip records",),
    Kind.STALE_PAGE: ("repeats record", "brings the records read", "declares"),
    Kind.RESET: ("repeats record", "brings the records read", "answers offset 0"),
    Kind.OTHER_QUERY: ("of type", "did not select", "answers offset"),
    Kind.WRONG_TOTAL: ("records in all", "declared ("),
}
#: The page faults each collector's paginator can meet (see ``page_shapes``).
CASES = {
    "demo_crm": (Kind.EMPTY_PAGE, Kind.STALE_PAGE, Kind.RESET, Kind.OTHER_QUERY, Kind.WRONG_TOTAL),
    "demo_erp": (Kind.EMPTY_PAGE, Kind.STALE_PAGE, Kind.RESET, Kind.OTHER_QUERY, Kind.WRONG_TOTAL),
    "demo_psa": (Kind.EMPTY_PAGE, Kind.STALE_PAGE, Kind.RESET),
    "demo_ipaas": (Kind.EMPTY_PAGE, Kind.STALE_PAGE, Kind.RESET),
    "hubspot": (Kind.EMPTY_PAGE, Kind.STALE_PAGE, Kind.RESET, Kind.WRONG_TOTAL),
    "n8n": (Kind.EMPTY_PAGE, Kind.STALE_PAGE, Kind.RESET),
    "tryton": (Kind.STALE_PAGE, Kind.RESET, Kind.OTHER_QUERY),
}
Build = Callable[[FlakyProxy], Sequence[Collector]]


class Target:
    """Where one collector's requests go, and how it is built through a proxy there."""

    def __init__(self, upstream: str, build: Build, *, demo: bool) -> None:
        self.upstream, self.build, self.demo = upstream, build, demo

    def proxy(self, schedule: FaultSchedule | None = None) -> FlakyProxy:
        if self.demo:
            return FlakyProxy(self.upstream, TOKEN, schedule)
        return FlakyProxy(self.upstream, "", schedule, issue_tokens=False, shapes=VENDOR_SHAPES)


def _one(name: str, build: Build) -> Build:
    """``build``, keeping only the collector ``name``."""
    return lambda proxy: [c for c in build(proxy) if c.name == name]


@pytest.fixture(scope="module")
def targets(
    small_server: DemoEstateServer, vendors: VendorRouter, tryton_server: TrytonServer
) -> dict[str, Target]:
    def at_vendors(proxy: FlakyProxy) -> Sequence[Collector]:
        return vendor_collectors(proxy.base_url, tryton_server)

    return {
        name: Target(small_server.base_url, _one(name, through), demo=True)
        if name.startswith("demo_")
        else Target(vendors.base_url, _one(name, at_vendors), demo=False)
        for name in CASES
    }


@pytest.fixture(scope="module")
def baselines(
    targets: dict[str, Target], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Baseline]:
    """Each collector collected alone through a proxy that never misbehaves."""
    out = {}
    for name, target in targets.items():
        engine = new_store(tmp_path_factory.mktemp(f"alone-{name}"))
        with target.proxy() as proxy:
            (collector,) = target.build(proxy)
            report = run_collector(engine, collector, refresh=refresh_pending)
            requests = proxy.requests
        assert report.status == "success", report.error
        out[name] = baseline_of(engine, requests)
        engine.dispose()
    return out


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("name", "kind"), [(name, kind) for name, kinds in CASES.items() for kind in kinds]
)
def test_a_page_fault_fails_its_stream_by_name_and_the_next_run_completes(
    store: Engine,
    targets: dict[str, Target],
    baselines: dict[str, Baseline],
    name: str,
    kind: Kind,
    tmp_path: Path,
) -> None:
    target, baseline = targets[name], baselines[name]
    schedule = FaultSchedule(-1, baseline.requests, (Fault(0, kind, 1, "2"),))
    with target.proxy(schedule) as proxy:
        (collector,) = target.build(proxy)
        first = run_collector(store, collector, refresh=refresh_pending)
        fired = list(proxy.fired)
        second = run_collector(store, collector, refresh=refresh_pending)
    assert [f.fault.kind for f in fired] == [kind], f"{kind} found no page of {name} to hit"
    failed = [s for s in first.streams if s.error]
    assert first.status in {"failed", "partial"} and len(failed) == 1, first.error
    sentence = failed[0].error or ""
    assert sentence.startswith(f"{failed[0].name}: page "), sentence
    assert any(reason in sentence for reason in SAYS[kind]), sentence
    assert first.quarantined == 0 and second.status == "success", second.error
    passes = [[Run(first, fired)], [Run(second, [])]]
    assert_converged(store, proxy, passes, baseline, schedule, secrets=[TOKEN, *SECRETS])
