"""The scheduled worker's jobs (several workers sharing one store: tests/resilience)."""

from __future__ import annotations

from datetime import timedelta

from apscheduler.triggers.interval import IntervalTrigger

from collectors.demo_estate.server import DemoEstateServer
from collectors.registry import COLLECTORS
from foundation.settings import CollectorSettings
from tests.collectors.conftest import settings_for
from throughline.worker import MISFIRE_GRACE_SECONDS, build_scheduler


def test_the_worker_schedules_one_coalescing_job_per_enabled_collector(
    demo_server: DemoEstateServer,
) -> None:
    settings = settings_for(demo_server)
    settings.collectors["demo_erp"] = CollectorSettings(enabled=False)
    settings.collectors["demo_crm"] = CollectorSettings(
        interval_seconds=45, base_url=demo_server.base_url
    )
    scheduler = build_scheduler(settings)
    scheduler.start(paused=True)  # job defaults apply once the scheduler runs
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)
    collect_jobs = sorted(j for j in jobs if j.startswith("collect:"))
    demo = [n for n in COLLECTORS if n.startswith("demo_")]  # the connectors are not configured
    assert collect_jobs == sorted(f"collect:{n}" for n in demo if n != "demo_erp")
    crm = jobs["collect:demo_crm"]
    assert isinstance(crm.trigger, IntervalTrigger)
    assert crm.trigger.interval == timedelta(seconds=45)
    assert (crm.coalesce, crm.max_instances, crm.misfire_grace_time) == (
        True,
        1,
        MISFIRE_GRACE_SECONDS,
    )
    assert crm.args == ("demo_crm",)
