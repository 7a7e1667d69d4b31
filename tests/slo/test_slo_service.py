"""SLOs evaluated on the collected demo year: the outage pages once, `slo check` reports."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from slo_demo import DemoYear
from sqlalchemy import Engine, delete

from collectors.registry import collector_sources
from foundation import settings as settings_module
from foundation.settings import Settings
from metrics.slo.notify import WebhookNotifier
from metrics.slo.service import evaluate_and_notify, slo_board, webhook_targets
from store.tables import AlertDelivery, AlertEpisode
from throughline import worker
from throughline.cli import main


@pytest.fixture
def outage(demo_year: DemoYear) -> datetime:
    """Five hours into the demo's ERP outage (09:00–15:00 UTC on 2026-06-23 for seed 7)."""
    start, end = demo_year.estate.scenario.erp_outage
    assert end - start > timedelta(hours=5)
    return start + timedelta(hours=5)


class Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def test_the_erp_outage_pages_the_sync_slo_once(
    demo_store: tuple[Engine, Settings], receiver: str, outage: datetime
) -> None:
    engine, base = demo_store
    settings = base.model_copy(
        update={"alert_webhooks": {"ops": "json"}, "secrets": {"webhook_ops": SecretStr(receiver)}}
    )
    sources = {name: (system, 10**6) for name, (system, _) in collector_sources(settings).items()}
    notifier = WebhookNotifier(webhook_targets(settings))
    first = evaluate_and_notify(engine, settings, outage, sources, notifier)
    fired = [t.episode.key for t in first if t.event == "firing"]
    assert any(
        k.startswith("slo:sync-first-attempts:cases:fast:integration=psa-erp") for k in fired
    )
    again = evaluate_and_notify(engine, settings, outage + timedelta(minutes=5), sources, notifier)
    assert [t for t in again if t.event == "firing"] == []
    pages = [m for m in Receiver.received if m["state"] == "firing" and m["severity"] == "page"]
    assert len(pages) == len({m["alert_key"] for m in pages}) >= 1
    assert all(receiver not in json.dumps(m) for m in Receiver.received)


def test_the_slo_board_lists_every_slo_worst_budget_first(
    demo_store: tuple[Engine, Settings], outage: datetime
) -> None:
    engine, settings = demo_store
    board = slo_board(engine, settings, outage, collector_sources(settings))
    overall = board[board["scope"] == "all"]
    assert sorted(overall["slo"]) == [
        "invoice-cycle-time",
        "project-setup-latency",
        "sync-first-attempts",
        "unbilled-work-aging",
    ]
    assert list(board["budget_remaining"]) == sorted(board["budget_remaining"])
    assert overall["attainment"].between(0, 1).all()


def test_slo_check_prints_each_slo_and_fails_when_one_is_breached(
    demo_store: tuple[Engine, Settings],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    outage: datetime,
) -> None:
    engine, _ = demo_store
    monkeypatch.setenv("THROUGHLINE_DATABASE_URL", engine.url.render_as_string(False))
    settings_module.get_settings.cache_clear()
    try:
        code = main(["slo", "check", "--as-of", outage.isoformat()])
    finally:
        settings_module.get_settings.cache_clear()
    out = capsys.readouterr().out
    assert f"4 SLOs as of {outage:%Y-%m-%d %H:%M} UTC" in out
    assert "sync-first-attempts" in out
    assert code == (1 if " 0 breached" not in out else 0)


def test_the_worker_evaluates_slos_on_schedule_and_pages_once(
    demo_store: tuple[Engine, Settings],
    receiver: str,
    monkeypatch: pytest.MonkeyPatch,
    outage: datetime,
) -> None:
    engine, base = demo_store
    settings = base.model_copy(
        update={
            "alert_webhooks": {"ops": "slack"},
            "slo_interval_seconds": 120,
            "secrets": {"webhook_ops": SecretStr(receiver)},
        }
    )
    monkeypatch.setattr(worker, "get_settings", lambda: settings)
    monkeypatch.setattr(
        worker,
        "collector_sources",
        lambda s: {n: (system, 10**6) for n, (system, _) in collector_sources(s).items()},
    )
    scheduler = worker.build_scheduler(settings)
    job = scheduler.get_job("slo-alerts")
    assert job is not None and job.trigger.interval == timedelta(seconds=120)
    with engine.begin() as conn:  # the module's store: forget the episodes other tests opened
        conn.execute(delete(AlertDelivery))
        conn.execute(delete(AlertEpisode))
    Receiver.received = []
    first = worker.alert_job(outage)
    again = worker.alert_job(outage + timedelta(minutes=2))
    assert first is not None and again is not None
    fired = {t.episode.key for t in first if t.event == "firing"}
    assert any(
        k.startswith("slo:sync-first-attempts:cases:fast:integration=psa-erp") for k in fired
    )
    assert [t for t in again if t.event == "firing"] == []
    assert len(Receiver.received) == len(fired)  # one Slack message per episode, none again
    assert all("text" in m and "blocks" in m for m in Receiver.received)
