"""The collector worker: APScheduler in its own process, one interval job per collector.

Jobs are module-level functions with explicit ids, `coalesce=True`, `max_instances=1` and a
misfire grace time; across processes the runner's per-collector lock (a PostgreSQL advisory
lock, or a file lock beside a SQLite database) keeps two workers from running one collector at
once. SIGTERM and SIGINT stop the scheduler after the running jobs finish.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime
from functools import lru_cache
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from collectors.registry import build_collector, enabled_collectors
from collectors.runner import RunReport, run_collector
from metrics.db import make_engine
from throughline.settings import Settings, get_settings

log = logging.getLogger("throughline.worker")
MISFIRE_GRACE_SECONDS = 60


@lru_cache(maxsize=4)
def _engine(url: str) -> Engine:
    return make_engine(url)


def collect_job(name: str) -> RunReport | None:
    """The scheduled job: run one collector once; failures are in the run log, not raised."""
    settings = get_settings()
    try:
        report = run_collector(_engine(settings.database_url), build_collector(name, settings))
    except Exception:
        log.exception("collector %s crashed; the run log has the reason", name)
        return None
    log.info(
        "%s: %s, %d records read, %d rows written, %d quarantined",
        name, report.status, report.records_read, report.rows_written, report.quarantined,
    )  # fmt: skip
    return report


def build_scheduler(settings: Settings) -> BackgroundScheduler:
    """A scheduler with one job per enabled collector, each first run immediately."""
    scheduler = BackgroundScheduler(
        timezone="UTC",
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": MISFIRE_GRACE_SECONDS,
        },
    )
    for name in enabled_collectors(settings):
        scheduler.add_job(
            collect_job, "interval", args=[name], id=f"collect:{name}", name=f"collect {name}",
            seconds=settings.collector(name).interval_seconds, replace_existing=True,
            next_run_time=datetime.now(UTC),
        )  # fmt: skip
    return scheduler


def run_worker(settings: Settings, stop: threading.Event | None = None) -> int:
    """Run until SIGTERM/SIGINT (or `stop` is set); returns the exit status."""
    stop = stop or threading.Event()
    scheduler = build_scheduler(settings)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: stopping after the running jobs finish", signum)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    scheduler.start()
    jobs = ", ".join(job.id for job in scheduler.get_jobs()) or "none"
    log.info("worker started; jobs: %s", jobs)
    stop.wait()
    scheduler.shutdown(wait=True)
    log.info("worker stopped")
    return 0
