"""Property: whatever faults the sources throw, once they stop the store converges to the truth.

For each seeded ``FaultSchedule`` the four demo collectors (Salesforce-style next URLs, PSA and
iPaaS page tokens, NetSuite-style offsets) run through a ``FlakyProxy``: 5xx and 429 bursts,
``Retry-After``, connect and read timeouts, resets mid-body, truncated JSON, a token expiring
mid-run, and the page faults — empty pages mid-walk that still point on, stale and duplicate
pages, a server restarting its paging, pages of another query, wrong totals, swapped pages —
pass after pass until a pass meets no fault and every run succeeds (``tests/resilience/
schedules.py``). Then the store's full row sets (objects, events, event-object relations,
links, sync attempts, FX rates), quarantine and cursors equal those of a fault-free collection
of the same estate — no row lost, none doubled, nothing good quarantined — and so does every
KPI of the report. On the way: every failed or partial run is in the run log with a reason
naming a fault that hit it, every fault that withholds, repeats or misplaces records failed the
stream it hit (its run was never a success), every ``Retry-After`` was waited out, and no secret
reached the run log. ``test_vendor_fault_schedules`` does the same for HubSpot, n8n and Tryton.

A failing schedule prints itself; replay it alone with ``THROUGHLINE_RESILIENCE_SEED=<seed>``.
CI runs 12 schedules on SQLite (each fault kind featured by at least one), every fifth also on
PostgreSQL; ``THROUGHLINE_RESILIENCE_LONG=1`` runs 200 (and 40 on PostgreSQL). One more test pins
the case the property found: a page swapped with the next, then the walk failing before the next
arrives.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from collectors.auth import ClientCredentialsGrant, OAuthTokenProvider
from collectors.base import HttpCollector, Stream
from collectors.demo_estate.model import Estate
from collectors.demo_estate.server import DemoEstateServer
from collectors.http import BearerAuth
from collectors.registry import COLLECTORS, build_collector
from collectors.runner import run_collector
from foundation.settings import CollectorSettings, Settings
from metrics.facts import refresh_pending
from tests.collectors.conftest import TOKEN
from tests.resilience.flaky_proxy import MAX_BURST, Fault, FaultSchedule, FlakyProxy, Kind
from tests.resilience.schedules import (
    CI_SCHEDULES,
    ON_POSTGRES,
    RETRY,
    SEEDS,
    TIMEOUT,
    Baseline,
    Run,
    assert_converged,
    baseline_of,
    collect_until_clean,
    new_store,
)

DEMO = [name for name in COLLECTORS if name.startswith("demo_")]
PAGE_SIZE = 25  # small pages: many page boundaries for faults to fall on


def demo_collectors(base_url: str, auth: httpx.Auth | None = None) -> list[HttpCollector]:
    """The registered demo collectors on `base_url`, with small pages (and `auth` if given)."""
    settings = Settings(
        database_url="sqlite://",
        demo_token=SecretStr(TOKEN),
        collectors={name: CollectorSettings(base_url=base_url) for name in DEMO},
    )
    built = []
    for name in DEMO:
        collector = build_collector(name, settings)
        assert isinstance(collector, HttpCollector)
        changes: dict[str, Any] = {
            "streams": [_small_pages(s) for s in collector.streams],
            "timeout": TIMEOUT,
            "retry": RETRY,
            "auth": auth or collector.auth,
        }
        built.append(dataclasses.replace(collector, **changes))
    return built


def _small_pages(stream: Stream) -> Stream:
    for size_field in ("page_size", "limit"):
        if hasattr(stream, size_field):
            return dataclasses.replace(stream, **{size_field: PAGE_SIZE})  # type: ignore[type-var]
    return stream  # the CRM's page size is the server's (200, its minimum)


def through(proxy: FlakyProxy) -> list[HttpCollector]:
    """The demo collectors through ``proxy``, with the tokens it issues."""
    provider = OAuthTokenProvider(
        proxy.token_url, ClientCredentialsGrant(proxy.client_id, proxy.client_secret)
    )
    return demo_collectors(proxy.base_url, BearerAuth(provider.token, refresh=provider.refresh))


@pytest.fixture(scope="session")
def baseline(
    small_server: DemoEstateServer, small_estate: Estate, tmp_path_factory: pytest.TempPathFactory
) -> Baseline:
    """Collect the small estate once, straight from its APIs, with nothing going wrong."""
    engine = new_store(tmp_path_factory.mktemp("baseline"))
    before = len(small_server.requests_log)
    reports = [
        run_collector(engine, c, refresh=refresh_pending)
        for c in demo_collectors(small_server.base_url)
    ]
    assert [r.status for r in reports] == ["success"] * len(DEMO), [r.error for r in reports]
    requests = len(small_server.requests_log) - before
    result = baseline_of(engine, requests, small_estate.history_end)
    engine.dispose()
    return result


def collect(store: Engine, proxy: FlakyProxy, schedule: FaultSchedule) -> list[list[Run]]:
    return collect_until_clean(store, proxy, schedule, through(proxy))


def test_schedules_are_replayable_and_ci_features_every_fault_kind() -> None:
    schedules = [FaultSchedule.generate(seed, 60) for seed in SEEDS[:CI_SCHEDULES]]
    assert {f.kind for s in schedules for f in s.faults} == set(Kind)
    assert FaultSchedule.generate(7, 60) == FaultSchedule.generate(7, 60)
    assert str(FaultSchedule.generate(7, 60)).startswith(
        "FaultSchedule.generate(seed=7, span=60): #"
    )


@pytest.mark.parametrize(
    ("seed", "store"),
    [(s, "sqlite") for s in SEEDS]
    + [pytest.param(s, "postgresql", marks=pytest.mark.postgres) for s in ON_POSTGRES],
    indirect=["store"],
)
def test_after_any_fault_schedule_the_store_and_kpis_equal_a_fault_free_run(
    seed: int,
    store: Engine,
    small_server: DemoEstateServer,
    small_estate: Estate,
    baseline: Baseline,
) -> None:
    schedule = FaultSchedule.generate(seed, baseline.requests)
    with FlakyProxy(small_server.base_url, TOKEN, schedule) as proxy:
        passes = collect(store, proxy, schedule)
    assert_converged(
        store, proxy, passes, baseline, schedule, secrets=[TOKEN], as_of=small_estate.history_end
    )


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_a_page_swapped_with_the_next_then_a_failed_walk_loses_no_row(
    store: Engine, small_server: DemoEstateServer, small_estate: Estate, baseline: Baseline
) -> None:
    """The CRM's first accounts page arrives with the second page's records, then the second
    page fails: the cursor must not pass the first page's records, which were never stored."""
    faults = (Fault(0, Kind.OUT_OF_ORDER), Fault(1, Kind.HTTP_503, MAX_BURST))
    schedule = FaultSchedule(-1, baseline.requests, faults)
    with FlakyProxy(small_server.base_url, TOKEN, schedule) as proxy:
        passes = collect(store, proxy, schedule)
    assert [(f.fault.kind, f.path) for f in proxy.fired[:2]] == [
        (Kind.OUT_OF_ORDER, "/crm/services/data/v60.0/query"),
        (Kind.HTTP_503, "/crm/services/data/v60.0/query/" + proxy.fired[1].path.rsplit("/")[-1]),
    ]
    first = passes[0][0].report.streams[0]
    assert (first.name, first.pages) == ("accounts", 1)  # stored: the second page's records
    assert first.error is not None and "answered HTTP 503 after 5 attempts" in first.error
    assert_converged(
        store, proxy, passes, baseline, schedule, secrets=[TOKEN], as_of=small_estate.history_end
    )


SAYS = {
    Kind.EMPTY_PAGE: "is empty yet points to a next page; following it would skip records",
    # accounts: 220 in pages of 200; page 2 again holds 200, more than the total leaves
    Kind.STALE_PAGE: "page 2 brings the records read to 400, past the 220 declared",
    Kind.RESET: "page 2 brings the records read to 400, past the 220 declared",
    Kind.WRONG_TOTAL: "records in all ('totalSize') where page 1 declared",
}


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
@pytest.mark.parametrize("kind", list(SAYS))
def test_one_page_fault_fails_its_stream_by_name_and_the_next_run_completes(
    store: Engine,
    small_server: DemoEstateServer,
    small_estate: Estate,
    baseline: Baseline,
    kind: Kind,
) -> None:
    """One page fault on the CRM's first walk of several pages (pages of 200): that stream
    fails with a sentence naming it and the reason, the run is partial, nothing is quarantined,
    and the next pass completes the data."""
    schedule = FaultSchedule(-1, baseline.requests, (Fault(0, kind, 1, "2"),))
    with FlakyProxy(small_server.base_url, TOKEN, schedule) as proxy:
        passes = collect(store, proxy, schedule)
    (fired,) = proxy.fired
    assert fired.path.startswith("/crm/services/data/v60.0/query")
    report = passes[0][0].report
    (failed,) = [s for s in report.streams if s.error]
    assert report.status == "partial" and report.error == failed.error
    assert failed.error is not None and failed.error.startswith(f"{failed.name}: page ")
    assert SAYS[kind] in failed.error, failed.error
    assert len(passes) == 2
    assert_converged(
        store, proxy, passes, baseline, schedule, secrets=[TOKEN], as_of=small_estate.history_end
    )
