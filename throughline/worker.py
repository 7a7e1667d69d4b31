"""The collector worker: APScheduler in its own process, one interval job per collector.

Jobs are module-level functions with explicit ids, `coalesce=True`, `max_instances=1` and a
misfire grace time; across processes the runner's per-collector lock (a PostgreSQL advisory
lock, or a file lock beside a SQLite database) keeps two workers from running one collector at
once. A second job polls the admin page's "run now" requests every few seconds and runs each
requested collector through the same runner; a third evaluates the SLOs every
`slo_interval_seconds`, opens and resolves alert episodes and sends their notifications to the
configured webhooks (undelivered ones are retried on the next evaluation); a fourth keeps the
SLO board the pages read current at the reporting clock (`metrics.slo.stored_board`). SIGTERM
and SIGINT stop the scheduler after the running jobs finish.
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

from collectors.registry import COLLECTORS, build_collector, collector_sources, enabled_collectors
from collectors.runner import RunReport, run_collector
from foundation.settings import Settings, get_settings
from metrics.facts import refresh_pending
from metrics.slo.alerts import Transition
from metrics.slo.notify import WebhookNotifier
from metrics.slo.service import current_views, evaluate_and_notify, webhook_targets
from store import run_requests
from store.clock import reporting_time
from store.db import make_engine

log = logging.getLogger("throughline.worker")
MISFIRE_GRACE_SECONDS = 60
REQUEST_POLL_SECONDS = 5
BOARD_POLL_SECONDS = 30


@lru_cache(maxsize=4)
def _engine(url: str) -> Engine:
    return make_engine(url)


def collect_job(name: str) -> RunReport | None:
    """The scheduled job: run one collector once; failures are in the run log, not raised."""
    settings = get_settings()
    try:
        report = run_collector(
            _engine(settings.database_url), build_collector(name, settings), refresh=refresh_pending
        )
    except Exception:
        log.exception("collector %s crashed; the run log has the reason", name)
        return None
    log.info(
        "%s: %s, %d records read, %d rows written, %d quarantined",
        name,
        report.status,
        report.records_read,
        report.rows_written,
        report.quarantined,
    )
    return report


def run_requests_job() -> int:
    """The polling job: run every pending "run now" request once; returns how many it took."""
    settings = get_settings()
    engine = _engine(settings.database_url)
    taken = 0
    while (request := run_requests.claim_next(engine)) is not None:
        taken += 1
        name = request.collector
        if name not in COLLECTORS:
            run_requests.finish(
                engine, request.id, ok=False, outcome=f"no collector named {name!r}"
            )
            continue
        try:
            report = run_collector(
                engine, build_collector(name, settings), kind="manual", refresh=refresh_pending
            )
        except Exception as exc:
            log.exception("requested run of %s crashed; the run log has the reason", name)
            run_requests.finish(
                engine, request.id, ok=False, outcome=f"{type(exc).__name__}: {exc}"
            )
            continue
        outcome = f"{report.status}: {report.rows_written} rows written"
        if report.error:
            outcome += f"; {report.error}"
        run_requests.finish(engine, request.id, ok=True, outcome=outcome, run_id=report.run_id)
        log.info("requested run of %s: %s", name, outcome)
    return taken


def alert_job(as_of: datetime | None = None) -> list[Transition] | None:
    """The SLO job: evaluate at `as_of` (now), open/resolve episodes, notify the webhooks."""
    settings = get_settings()
    try:
        notifier = WebhookNotifier(webhook_targets(settings))
        transitions = evaluate_and_notify(
            _engine(settings.database_url),
            settings,
            as_of or datetime.now(UTC),
            collector_sources(settings),
            notifier,
        )
    except Exception:
        log.exception("SLO evaluation failed; alerts were not updated")
        return None
    for t in transitions:
        log.info("alert %s: %s (%s)", t.event, t.episode.key, t.episode.severity)
    return transitions


def board_job() -> bool:
    """The SLO board job: store the board and the SLOs' weekly histories at the reporting clock
    unless the stored ones are still current (then this is a lookup); False when they could not
    be evaluated."""
    settings = get_settings()
    engine = _engine(settings.database_url)
    try:
        current_views(engine, settings, reporting_time(engine), collector_sources(settings))
    except Exception:
        log.exception("SLO board not evaluated; the pages evaluate it themselves")
        return False
    return True


def build_scheduler(settings: Settings) -> BackgroundScheduler:
    """One job per enabled collector (each first run immediately), the run-request poller, the
    SLO alert job and the SLO board job."""
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
            collect_job,
            "interval",
            args=[name],
            id=f"collect:{name}",
            name=f"collect {name}",
            seconds=settings.collector(name).interval_seconds,
            replace_existing=True,
            next_run_time=datetime.now(UTC),
        )
    scheduler.add_job(
        run_requests_job,
        "interval",
        id="run-requests",
        name="run requested collectors",
        seconds=REQUEST_POLL_SECONDS,
        replace_existing=True,
    )
    scheduler.add_job(
        alert_job,
        "interval",
        id="slo-alerts",
        name="evaluate SLOs and send alerts",
        seconds=settings.slo_interval_seconds,
        replace_existing=True,
    )
    scheduler.add_job(
        board_job,
        "interval",
        id="slo-board",
        name="store the SLO board for the pages",
        seconds=BOARD_POLL_SECONDS,
        replace_existing=True,
    )
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
    # APScheduler logs every run of every job at INFO; the run-request poller runs every few
    # seconds, and the jobs log what they did themselves.
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
    scheduler.start()
    jobs = ", ".join(job.id for job in scheduler.get_jobs()) or "none"
    log.info("worker started; jobs: %s", jobs)
    stop.wait()
    scheduler.shutdown(wait=True)
    log.info("worker stopped")
    return 0
