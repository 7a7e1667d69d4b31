"""Record the JSON-RPC calls of one full collection from a live trytond into a fixture.

Usage: ``python -m tests.tryton.record <database URL> <login> <password>`` (against the seeded
test database, see conftest.py); writes `tests/fixtures/http/tryton/collection.json`, which
`test_tryton_recorded.py` replays through `httpx.MockTransport`. Session keys are scrubbed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx

from collectors import erp_tryton
from collectors.runner import run_collector
from metrics.facts import refresh_pending
from store.db import make_engine
from store.migrate import upgrade

FIXTURE = Path(__file__).parents[1] / "fixtures" / "http" / "tryton" / "collection.json"
SCRUBBED_SESSION = "0" * 64


class Recorder(httpx.BaseTransport):
    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.calls: list[dict[str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        body = response.read()
        sent = json.loads(request.content)
        if response.status_code != 200:
            raise RuntimeError(f"{sent['method']}: HTTP {response.status_code} {body[:200]!r}")
        answer, kept = json.loads(body), json.loads(body)
        if sent["method"] == "common.db.login":
            sent["params"][1] = {"password": "***"}
            kept["result"][1] = SCRUBBED_SESSION
        self.calls.append({"method": sent["method"], "params": sent["params"], "answer": kept})
        return httpx.Response(response.status_code, json=answer)


def main(url: str, login: str, password: str) -> None:
    recorder = Recorder()
    config = erp_tryton.TrytonConfig(url, login=login)
    session = erp_tryton.TrytonSession(config.url, login, password, transport=recorder)
    engine = make_engine("sqlite://")
    upgrade(engine)
    report = run_collector(
        engine,
        erp_tryton.collector("tryton", config, session, transport=recorder),
        refresh=refresh_pending,
    )
    assert report.status == "success", report.error
    FIXTURE.write_text(json.dumps(recorder.calls, indent=1, sort_keys=True) + "\n")
    print(f"{len(recorder.calls)} calls recorded in {FIXTURE}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
