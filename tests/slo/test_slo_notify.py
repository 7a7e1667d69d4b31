"""Webhook payloads (Slack, Teams, JSON), delivery with retries, and a real loopback receiver."""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from slo_helpers import hourly, make_slo, utc

from foundation.retry import RetryPolicy
from metrics.slo.alerts import Episode, InMemoryAlertStore, reconcile
from metrics.slo.evaluate import AlertCheck, EvaluationRun, evaluate_all
from metrics.slo.inputs import SloInputs
from metrics.slo.notify import (
    JSON_SCHEMA,
    WebhookNotifier,
    WebhookTarget,
    dispatch,
    json_payload,
    mask_webhook_url,
    message_for,
    process,
    slack_escape,
    slack_payload,
    teams_payload,
)
from metrics.slo.windows import DEFAULT_BURN_WINDOWS

T0 = utc(2024, 5, 14, 8)  # a Tuesday
SECRET = "XyZsecret123"
SLACK_URL = f"https://hooks.slack.example/services/T000/B000/{SECRET}"
HOSTILE = "<!channel> Setup & <https://evil.example|click here> *now*"
NO_WAIT = RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0, jitter=False)


def hostile_episode(resolved: bool = False) -> Episode:
    check = AlertCheck(
        key="slo:setup:cases:fast:legal_entity=DE",
        kind="burn_rate",
        severity="page",
        firing=True,
        as_of=T0,
        slo="setup",
        slo_display=HOSTILE,
        group=(("legal_entity", "<DE>"),),
        budget="cases",
        window=DEFAULT_BURN_WINDOWS[0],
        long_rate=16.84,
        short_rate=100.0,
        budget_remaining=0.25,
        budget_left=1.5,
        budget_unit="cases",
    )
    if not resolved:
        return Episode("ep-1", check.key, "page", T0, check)
    later = T0 + timedelta(hours=2)
    quiet = replace(check, firing=False, long_rate=0.4, short_rate=0.0, as_of=later)
    return Episode("ep-1", check.key, "page", T0, check, later, quiet)


# --- payloads ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a & b", "a &amp; b"),
        ("<!channel>", "&lt;!channel&gt;"),
        ("<https://x|y>", "&lt;https://x|y&gt;"),
        ("&lt;", "&amp;lt;"),
        ("plain *bold* _it_", "plain *bold* _it_"),
    ],
)
def test_slack_escaping_replaces_exactly_the_three_control_characters(
    raw: str, escaped: str
) -> None:
    assert slack_escape(raw) == escaped


def _mrkdwn_texts(payload: dict[str, Any]) -> list[str]:
    texts = [payload["text"]]
    for block in payload["blocks"]:
        if block.get("text", {}).get("type") == "mrkdwn":
            texts.append(block["text"]["text"])
        texts.extend(f["text"] for f in block.get("fields", []))
        texts.extend(e["text"] for e in block.get("elements", []))
    return texts


def test_slack_payload_has_text_and_blocks_and_escapes_untrusted_names() -> None:
    payload = slack_payload(message_for(hostile_episode(), "firing"))
    assert set(payload) == {"text", "blocks"}
    assert [b["type"] for b in payload["blocks"]] == ["header", "section", "section", "context"]
    header = payload["blocks"][0]["text"]
    assert header["type"] == "plain_text" and HOSTILE in header["text"]  # plain: shown as is
    assert len(header["text"]) <= 150
    for text in _mrkdwn_texts(payload):
        assert "<" not in text and ">" not in text
    assert "&lt;!channel&gt; Setup &amp; &lt;https://evil.example|click here&gt;" in payload["text"]
    assert "legal_entity=&lt;DE&gt;" in json.dumps(payload)
    assert len(payload["blocks"][2]["fields"]) <= 10


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_teams_payload_is_an_adaptive_card_message_with_plain_text_runs() -> None:
    payload = teams_payload(message_for(hostile_episode(), "firing"))
    assert payload["type"] == "message"
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.2"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    kinds = {node.get("type") for node in _walk(card)}
    assert kinds == {"AdaptiveCard", "RichTextBlock", "TextRun"}  # no Markdown-rendering blocks
    runs = [n["text"] for n in _walk(card) if n.get("type") == "TextRun"]
    assert any(HOSTILE in text for text in runs)
    assert card["body"][0]["inlines"][0]["color"] == "Attention"


def test_json_payload_follows_the_documented_schema() -> None:
    payload = json_payload(message_for(hostile_episode(resolved=True), "resolved"))
    assert set(payload) == {
        "schema",
        "alert_key",
        "episode_id",
        "state",
        "severity",
        "kind",
        "title",
        "summary",
        "slo",
        "group",
        "budget",
        "window",
        "burn_rate",
        "budget_remaining",
        "collector",
        "as_of",
        "opened_at",
        "resolved_at",
    }
    assert payload["schema"] == JSON_SCHEMA
    assert (payload["state"], payload["severity"], payload["kind"]) == (
        "resolved",
        "page",
        "burn_rate",
    )
    assert payload["slo"] == {"name": "setup", "display_name": HOSTILE}
    assert payload["group"] == {"legal_entity": "<DE>"}
    assert payload["burn_rate"] == {"long": 0.4, "short": 0.0}  # values when it resolved
    assert payload["window"]["factor"] == 14.4 and payload["window"]["long_seconds"] == 86400
    assert payload["resolved_at"] == "2024-05-14T10:00:00+00:00"
    assert "fired for 2 h" in payload["summary"]
    json.dumps(payload)  # plain JSON types only


# --- secrets and retries ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (SLACK_URL, "https://hooks.slack.example/***"),
        (
            "https://prod.westeurope.logic.azure.com:443/workflows/abc?sig=s3cr3t",
            "https://prod.westeurope.logic.azure.com:443/***",
        ),
        ("http://user:pw@127.0.0.1:8080/hook", "http://127.0.0.1:8080/***"),
        ("not a url", "***"),
    ],
)
def test_webhook_urls_are_masked_to_scheme_and_host(url: str, masked: str) -> None:
    assert mask_webhook_url(url) == masked
    assert SECRET not in repr(WebhookTarget("slack", SLACK_URL, "slack"))


class Script:
    """A fake receiver: answers (or raises) the scripted steps in order, records requests."""

    def __init__(self, *steps: httpx.Response | Exception) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, Exception):
            raise step
        return step


def notifier(script: Script, sleeps: list[float], retry: RetryPolicy = NO_WAIT) -> WebhookNotifier:
    return WebhookNotifier(
        [WebhookTarget("slack", SLACK_URL, "slack")],
        transport=httpx.MockTransport(script),
        retry=retry,
        sleep=sleeps.append,
        rng=random.Random(1),
    )


@pytest.mark.parametrize(
    ("steps", "ok", "attempts", "sleeps"),
    [
        pytest.param([httpx.Response(200, text="ok")], True, 1, [], id="ok"),
        pytest.param([httpx.Response(503), httpx.Response(200)], True, 2, [0.0], id="5xx-retried"),
        pytest.param(
            [httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200)],
            True,
            2,
            [3.0],
            id="429-honours-retry-after",
        ),
        pytest.param([httpx.Response(404, text="no_service")], False, 1, [], id="4xx-not-retried"),
        pytest.param([httpx.ConnectError("refused")], False, 3, [0.0, 0.0], id="connection-errors"),
        pytest.param(
            [httpx.Response(429, headers={"Retry-After": "3600"})],
            False,
            1,
            [],
            id="retry-after-too-long",
        ),
    ],
)
def test_delivery_retries_transient_failures_only(
    steps: list[httpx.Response | Exception], ok: bool, attempts: int, sleeps: list[float]
) -> None:
    script, slept = Script(*steps), list[float]()
    with notifier(script, slept) as sender:
        outcome = sender.send("slack", message_for(hostile_episode(), "firing"))
    assert (outcome.ok, outcome.attempts) == (ok, attempts)
    assert slept == sleeps
    assert len(script.requests) == attempts
    body = json.loads(script.requests[0].content)
    assert set(body) == {"text", "blocks"}
    assert script.requests[0].headers["Content-Type"].startswith("application/json")


def test_failures_never_show_the_webhook_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    error = httpx.ConnectError(f"cannot reach {SLACK_URL}")
    script, slept = Script(error), list[float]()
    with notifier(script, slept) as sender:
        outcome = sender.send("slack", message_for(hostile_episode(), "firing"))
        rejected = Script(httpx.Response(400, text=f"invalid_payload for {SLACK_URL}"))
    assert not outcome.ok and outcome.error is not None
    assert "hooks.slack.example/***" in outcome.error
    with notifier(rejected, slept) as sender:
        second = sender.send("slack", message_for(hostile_episode(), "firing"))
    for text in (outcome.error, second.error or "", caplog.text):
        assert SECRET not in text and "/services/" not in text


def test_a_failing_firing_holds_back_its_resolve_and_old_deliveries_expire() -> None:
    store = InMemoryAlertStore()
    check = hostile_episode().opened
    store.open_episode(check, T0, ["slack"])
    script, slept = Script(httpx.Response(500)), list[float]()
    with notifier(script, slept, RetryPolicy(max_attempts=1)) as sender:
        report = dispatch(store, sender, at=T0)
        assert [d.state for d in report.failed] == ["failed"]
        (episode,) = store.open_episodes()
        store.resolve_episode(episode.id, T0 + timedelta(hours=1), None, ["slack"])
        report = dispatch(store, sender, at=T0 + timedelta(hours=1))
        assert len(report.failed) == 1 and report.sent == ()  # the resolve waited its turn
        assert len(script.requests) == 2
        report = dispatch(store, sender, at=T0 + timedelta(days=2))
    assert {d.event for d in report.expired} == {"firing", "resolved"}
    assert store.due_deliveries() == []


# --- a real receiver on loopback --------------------------------------------------------------


class Receiver:
    """A ThreadingHTTPServer on 127.0.0.1 that answers 500 to the first ``fail_first`` POSTs."""

    def __init__(self, fail_first: int) -> None:
        self.fail_first = fail_first
        self.requests = 0
        self.accepted: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                with receiver._lock:
                    receiver.requests += 1
                    failing = receiver.requests <= receiver.fail_first
                    if not failing:
                        receiver.accepted.append((self.path, body))
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"no" if failing else b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def _outage(hour: datetime) -> float:
    return 1.0 if T0 <= hour < T0 + timedelta(hours=4) else 0.002


def evaluations(hours: range) -> Iterator[EvaluationRun]:
    """The sync SLO evaluated hourly through a 4-hour total outage starting at T0."""
    slo = make_slo()
    inputs = {slo.name: SloInputs(tuple(hourly(utc(2024, 5, 1), utc(2024, 5, 17), _outage)))}
    for hour in hours:
        yield evaluate_all([slo], inputs, as_of=T0 + timedelta(hours=hour))


def states_by_key(accepted: list[tuple[str, dict[str, Any]]], path: str) -> dict[str, list[str]]:
    states: dict[str, list[str]] = {}
    for got_path, body in accepted:
        if got_path == path:
            states.setdefault(body["alert_key"], []).append(body["state"])
    return states


def test_a_loopback_receiver_gets_one_notification_per_episode_and_one_resolve(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with Receiver(fail_first=1) as receiver:
        targets = [
            WebhookTarget("slack", receiver.url(f"/slack/T000/B000/{SECRET}"), "slack"),
            WebhookTarget("teams", receiver.url(f"/teams/{SECRET}"), "teams"),
            WebhookTarget("json", receiver.url(f"/json/{SECRET}"), "json"),
        ]
        store = InMemoryAlertStore()
        with WebhookNotifier(targets, retry=NO_WAIT, sleep=lambda s: None) as sender:
            for run in evaluations(range(-3, 37)):  # 40 evaluations, hourly
                process(run, store, sender)
    keys = {
        "slo:sync-first-attempts:cases:fast:*": ["firing", "resolved"],  # T0+4h → T0+6h
        "slo:sync-first-attempts:cases:slow:*": ["firing", "resolved"],  # T0+2h → T0+28h
    }
    assert states_by_key(receiver.accepted, f"/json/{SECRET}") == keys
    for path in (f"/slack/T000/B000/{SECRET}", f"/teams/{SECRET}"):
        assert sum(1 for p, _ in receiver.accepted if p == path) == 4
    assert receiver.requests == 12 + 1  # every notification once, plus the one 500
    fast = next(e for e in store.history() if e.key.endswith(":fast:*"))
    assert (fast.opened_at, fast.resolved_at) == (T0 + timedelta(hours=4), T0 + timedelta(hours=6))
    assert all(d.state == "sent" for d in store.deliveries.values())
    assert SECRET not in caplog.text


def test_a_failed_delivery_is_sent_on_the_next_evaluation_without_a_new_episode() -> None:
    with Receiver(fail_first=1) as receiver:
        path = f"/json/{SECRET}"
        store = InMemoryAlertStore()
        once = RetryPolicy(max_attempts=1)
        with WebhookNotifier(
            [WebhookTarget("json", receiver.url(path), "json")], retry=once
        ) as sender:
            runs = list(evaluations(range(0, 30)))
            for run in runs[:2]:
                assert reconcile(run, store, targets=sender.target_names) == []  # nothing yet
            transitions, report = process(runs[2], store, sender)  # slow fires; POST gets 500
            assert [t.event for t in transitions] == ["firing"]
            assert report.sent == () and [d.attempts for d in report.failed] == [1]
            assert receiver.accepted == []
            transitions, report = process(runs[3], store, sender)  # retried, no new episode
            assert transitions == [] and [d.event for d in report.sent] == ["firing"]
            for run in runs[4:]:
                process(run, store, sender)
    assert states_by_key(receiver.accepted, path) == {
        "slo:sync-first-attempts:cases:fast:*": ["firing", "resolved"],
        "slo:sync-first-attempts:cases:slow:*": ["firing", "resolved"],
    }
    slow = next(e for e in store.history() if e.key.endswith(":slow:*"))
    assert (slow.opened_at, slow.resolved_at) == (T0 + timedelta(hours=2), T0 + timedelta(hours=28))
    assert store.deliveries[(slow.id, "firing", "json")].attempts == 2
    assert len(store.history()) == 2


@pytest.mark.parametrize(
    ("fraction", "amount", "text"),
    [
        (0.25, 1.5, "25 % of the budget is left (1.5 cases)."),
        (-1.58, -264.8, "The budget is overspent by 158 % (264.8 cases over)."),
    ],
)
def test_the_summary_says_how_much_budget_is_left_or_overspent(
    fraction: float, amount: float, text: str
) -> None:
    episode = hostile_episode()
    check = replace(episode.opened, budget_remaining=fraction, budget_left=amount)
    assert text in message_for(replace(episode, opened=check), "firing").summary
