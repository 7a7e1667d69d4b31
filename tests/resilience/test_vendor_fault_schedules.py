"""Property: the fault schedules of ``test_fault_schedules``, on the paginators the demo estate
does not speak.

HubSpot's CRM search (its page token in the POST body) and n8n's executions (a cursor token on a
newest-first stream whose cursor moves only at the end of the walk) answer from the recorded
fake APIs (`tests/collectors/fixture_api.py`, their records cloned a few times so that every walk
has several pages); Tryton's keyset ``search_read`` answers from a real trytond 8.2 on loopback
(`tests/tryton/conftest.py`), read in pages of two. All three sit behind one ``VendorRouter``
and one ``FlakyProxy`` that knows their page shapes (``page_shapes.VENDOR_SHAPES``): Tryton gets
no empty or swapped pages (an empty keyset page ends a walk; a swapped one would skip rows
unseen) and no wrong totals (it declares none); only Tryton's answers say which query they
answer (their fields), so only Tryton gets pages of another query. After the faults stop, the
store equals a fault-free collection row for row, nothing good sits in quarantine, the cursors
agree, and every fault that withholds, repeats or misplaces records failed its stream.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from collectors.runner import run_collector
from metrics.facts import refresh_pending
from tests.resilience.flaky_proxy import FaultSchedule, FlakyProxy
from tests.resilience.page_shapes import VENDOR_SHAPES
from tests.resilience.schedules import (
    ON_POSTGRES,
    SEEDS,
    Baseline,
    assert_converged,
    baseline_of,
    collect_until_clean,
    new_store,
)
from tests.resilience.vendor_router import SECRETS, VendorRouter, vendor_collectors
from tests.tryton.conftest import TrytonServer


@pytest.fixture(scope="session")
def vendor_baseline(
    vendors: VendorRouter, tryton_server: TrytonServer, tmp_path_factory: pytest.TempPathFactory
) -> Baseline:
    """A fault-free collection of the three vendors through a proxy that misbehaves never."""
    engine = new_store(tmp_path_factory.mktemp("vendor-baseline"))
    with FlakyProxy(vendors.base_url, "", issue_tokens=False, shapes=VENDOR_SHAPES) as proxy:
        reports = [
            run_collector(engine, c, refresh=refresh_pending)
            for c in vendor_collectors(proxy.base_url, tryton_server)
        ]
        requests = proxy.requests
    assert [r.status for r in reports] == ["success"] * 3, [r.error for r in reports]
    assert min(r.rows_written for r in reports) > 0
    result = baseline_of(engine, requests)
    engine.dispose()
    return result


@pytest.mark.parametrize(
    ("seed", "store"),
    [(s, "sqlite") for s in SEEDS]
    + [pytest.param(s, "postgresql", marks=pytest.mark.postgres) for s in ON_POSTGRES],
    indirect=["store"],
)
def test_after_any_fault_schedule_the_vendor_store_equals_a_fault_free_run(
    seed: int,
    store: Engine,
    vendors: VendorRouter,
    tryton_server: TrytonServer,
    vendor_baseline: Baseline,
) -> None:
    schedule = FaultSchedule.generate(seed, vendor_baseline.requests)
    with FlakyProxy(
        vendors.base_url, "", schedule, issue_tokens=False, shapes=VENDOR_SHAPES
    ) as proxy:
        collectors = vendor_collectors(proxy.base_url, tryton_server)
        passes = collect_until_clean(store, proxy, schedule, collectors)
    secrets = [*SECRETS, tryton_server.password]
    assert_converged(store, proxy, passes, vendor_baseline, schedule, secrets=secrets)
