"""The scheduled worker: its jobs, and two worker processes sharing one store."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from collectors.demo_estate.server import DemoEstateServer
from collectors.registry import COLLECTORS
from collectors.worker import MISFIRE_GRACE_SECONDS, build_scheduler
from metrics.models import CollectorRun
from tests.collectors.conftest import TOKEN, settings_for
from tests.collectors.store_truth import nonzero, store_summary
from throughline.settings import CollectorSettings


def test_the_worker_schedules_one_coalescing_job_per_enabled_collector(
    demo_server: DemoEstateServer,
) -> None:
    settings = settings_for(demo_server)
    settings.collectors["demo_erp"] = CollectorSettings(enabled=False)
    settings.collectors["demo_crm"] = CollectorSettings(interval_seconds=45)
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
        True, 1, MISFIRE_GRACE_SECONDS,
    )  # fmt: skip
    assert crm.args == ("demo_crm",)


def worker_env(engine: Engine, server: DemoEstateServer) -> dict[str, str]:
    env = dict(os.environ)
    env["THROUGHLINE_DATABASE_URL"] = engine.url.render_as_string(hide_password=False)
    env["THROUGHLINE_DEMO_TOKEN"] = TOKEN
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        env["PGOPTIONS"] = f"-c search_path={schema}"
    for name in COLLECTORS:
        env[f"THROUGHLINE_COLLECTORS__{name.upper()}__BASE_URL"] = server.base_url
        env[f"THROUGHLINE_COLLECTORS__{name.upper()}__INTERVAL_SECONDS"] = "5"
    return env


def test_two_workers_never_run_one_collector_at_once_and_store_each_row_once(
    engine: Engine, demo_server: DemoEstateServer, tmp_path: Path
) -> None:
    env = worker_env(engine, demo_server)
    logs = [tmp_path / f"worker{i}.log" for i in (1, 2)]
    with ExitStack() as files:
        workers = [
            subprocess.Popen([sys.executable, "-m", "throughline", "worker"], env=env,
                             stderr=files.enter_context(log.open("w")), stdout=subprocess.DEVNULL)
            for log in logs
        ]  # fmt: skip
        try:
            time.sleep(14)
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            codes = [worker.wait(timeout=60) for worker in workers]
    assert codes == [0, 0], [log.read_text()[-2000:] for log in logs]
    with Session(engine) as s:
        runs = s.scalars(select(CollectorRun).order_by(CollectorRun.started_at)).all()
    by_collector: dict[str, list[CollectorRun]] = {}
    for run in runs:
        by_collector.setdefault(run.collector, []).append(run)
    assert sorted(by_collector) == sorted(n for n in COLLECTORS if n.startswith("demo_"))
    for name, seq in by_collector.items():
        assert all(r.status == "success" for r in seq), (name, [r.error for r in seq])
        for earlier, later in itertools.pairwise(seq):
            assert earlier.finished_at is not None
            assert later.started_at >= earlier.finished_at, f"{name} ran twice at once"
    skipped = sum(log.read_text().count("another worker is running it") for log in logs)
    assert skipped >= 1
    stored, truth = store_summary(engine), demo_server.truth()
    assert stored["objects"] == nonzero(truth.objects)
    assert stored["events"] == nonzero(truth.events)
    assert stored["sync_attempts"] == truth.sync_attempts
