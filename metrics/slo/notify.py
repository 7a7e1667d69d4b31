"""Webhook notifications for alert episodes: Slack, Microsoft Teams and plain JSON.

Payloads (all text is plain; SLO names and group values come from YAML and data, so they are
treated as untrusted):

- **Slack** incoming webhook (docs: api.slack.com/messaging/webhooks, Block Kit, and
  "Formatting text for app surfaces" → *Escaping text*): ``{"text": fallback, "blocks": [header
  (plain_text), section (mrkdwn), section fields (mrkdwn), context (mrkdwn)]}``. Every mrkdwn
  string has ``&``, ``<`` and ``>`` replaced by ``&amp;``, ``&lt;``, ``&gt;`` — the three
  control characters Slack documents — so a name cannot smuggle in ``<!channel>`` or a link.
- **Microsoft Teams** (docs: learn.microsoft.com, "Send Adaptive Cards using an Incoming
  Webhook"; the Workflows app's "Post to a channel when a webhook request is received" takes
  the same body): ``{"type": "message", "attachments": [{"contentType":
  "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": AdaptiveCard 1.2}]}``.
  Text goes in ``RichTextBlock``/``TextRun`` elements, which Adaptive Cards render without
  Markdown (``TextBlock`` and ``FactSet`` would render it), so names cannot add links either.
- **JSON** (``throughline.alert/v1``), for any other receiver::

      {"schema": "throughline.alert/v1", "alert_key": str, "episode_id": str,
       "state": "firing" | "resolved", "severity": "page" | "ticket",
       "kind": "burn_rate" | "freshness", "title": str, "summary": str,
       "slo": {"name": str, "display_name": str} | null,
       "group": {dimension: value} ({} = overall),
       "budget": "cases" | "days" | null,
       "window": {"name", "long_seconds", "short_seconds", "business_time", "factor"} | null,
       "burn_rate": {"long": float | null, "short": float | null} | null,
       "budget_remaining": {"fraction": float, "amount": float, "unit": str} | null,
       "collector": {"name", "last_success", "stale_after_seconds", "paused_slos"} | null,
       "as_of": ISO 8601, "opened_at": ISO 8601, "resolved_at": ISO 8601 | null}

Sending: one POST per delivery through an httpx transport; connection errors, timeouts, 429 and
5xx are retried with capped exponential backoff and full jitter, honouring ``Retry-After``
(`foundation.retry.RetryPolicy`). A delivery that still fails is recorded as failed and sent again
by the next `dispatch` (the next evaluation) without opening a new episode, until
``give_up_after`` has passed since it was queued (then it is marked expired).

Webhook URLs are secrets (the path is the credential): they are never logged or put in errors;
`mask_webhook_url` keeps only the scheme and host. Requests go straight to the transport rather
than through ``httpx.Client``, whose INFO log line would print the full URL.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import httpx

from foundation.retry import USER_AGENT, RetryPolicy, parse_retry_after
from metrics.slo.alerts import (
    AlertStore,
    Delivery,
    DeliveryOutcome,
    Episode,
    EventKind,
    Transition,
    reconcile,
)
from metrics.slo.evaluate import AlertCheck, EvaluationRun, GroupKey, group_label
from metrics.slo.windows import describe_span

logger = logging.getLogger("throughline.slo.notify")

PayloadFormat = Literal["slack", "teams", "json"]
JSON_SCHEMA = "throughline.alert/v1"
DEFAULT_NOTIFY_RETRY = RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=15.0)
DEFAULT_NOTIFY_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
#: Slack's limit for a header block's text.
SLACK_HEADER_MAX = 150
#: Slack's limit for a section's text.
SLACK_SECTION_MAX = 3000


def mask_webhook_url(url: str) -> str:
    """``https://hooks.slack.com/services/T0/B0/XYZ`` → ``https://hooks.slack.com/***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    host = parts.hostname or ""
    if not parts.scheme or not host:
        return "***"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/***"


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """A named receiver: its URL (a secret, never shown) and which payload it takes."""

    name: str
    url: str = field(repr=False)
    format: PayloadFormat = "json"

    def __repr__(self) -> str:
        return f"WebhookTarget(name={self.name!r}, url={self.masked_url!r}, format={self.format!r})"

    @property
    def masked_url(self) -> str:
        return mask_webhook_url(self.url)


# --- the message ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """Everything a payload shows about one episode event, format-neutral and plain text."""

    state: EventKind
    episode_id: str
    alert_key: str
    check: AlertCheck
    as_of: datetime
    opened_at: datetime
    resolved_at: datetime | None
    current: AlertCheck | None
    title: str
    summary: str
    facts: tuple[tuple[str, str], ...]


def message_for(episode: Episode, event: EventKind) -> AlertMessage:
    """The message of an episode's firing or resolved event."""
    check = episode.opened
    current = episode.resolved if event == "resolved" else check
    as_of = episode.resolved_at if event == "resolved" and episode.resolved_at else check.as_of
    if check.kind == "freshness":
        title, summary = _freshness_text(episode, event)
    else:
        title, summary = _burn_text(episode, event, current)
    facts = _facts(episode, event, current)
    return AlertMessage(
        state=event,
        episode_id=episode.id,
        alert_key=episode.key,
        check=check,
        as_of=as_of,
        opened_at=episode.opened_at,
        resolved_at=episode.resolved_at if event == "resolved" else None,
        current=current,
        title=title,
        summary=summary,
        facts=facts,
    )


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}×"


def _when(value: datetime | None) -> str:
    return "never" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def _lasted(start: datetime, end: datetime) -> str:
    minutes = max(0, int((end - start).total_seconds() // 60))
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    if hours:
        parts.append(f"{hours} h")
    if minutes or not parts:
        parts.append(f"{minutes} min")
    return " ".join(parts)


def _scope(group: GroupKey) -> str:
    return "overall" if not group else group_label(group)


def _budget_left(fraction: float, amount: float, unit: str | None) -> str:
    if fraction < 0:
        return f" The budget is overspent by {-fraction * 100:.0f} % ({-amount:.1f} {unit} over)."
    return f" {fraction * 100:.0f} % of the budget is left ({amount:.1f} {unit})."


def _burn_text(episode: Episode, event: EventKind, current: AlertCheck | None) -> tuple[str, str]:
    check = episode.opened
    window = check.window
    assert window is not None
    name = check.slo_display or check.slo or "?"
    budget = "aging budget (days)" if check.budget == "days" else "error budget"
    kind = "business " if window.business_time else ""
    long_, short = describe_span(window.long, kind), describe_span(window.short, kind)
    if event == "firing":
        title = f"FIRING ({check.severity}): {name} - {_scope(check.group)}"
        left = ""
        if check.budget_remaining is not None and check.budget_left is not None:
            left = _budget_left(check.budget_remaining, check.budget_left, check.budget_unit)
        summary = (
            f"The {budget} is burning {_rate(check.long_rate)} the sustainable rate over the "
            f"last {long_} and {_rate(check.short_rate)} over the last {short} "
            f"(alert above {window.factor:g}×, '{window.name}' window).{left}"
        )
        return title, summary
    title = f"RESOLVED ({check.severity}): {name} - {_scope(check.group)}"
    end = episode.resolved_at or check.as_of
    if current is None:
        now = "It is no longer evaluated (the SLO, group or window was removed)."
    else:
        now = (
            f"Burn rate now {_rate(current.long_rate)} over {long_} and "
            f"{_rate(current.short_rate)} over {short}."
        )
    summary = (
        f"The '{window.name}' burn-rate alert fired for {_lasted(episode.opened_at, end)} "
        f"(since {_when(episode.opened_at)}). {now}"
    )
    return title, summary


def _freshness_text(episode: Episode, event: EventKind) -> tuple[str, str]:
    check = episode.opened
    collector = check.collector or "?"
    paused = ", ".join(check.paused_slos) or "none"
    stale_after = describe_span(check.stale_after) if check.stale_after else "?"
    if event == "firing":
        title = f"FIRING ({check.severity}): collector {collector} is stale"
        summary = (
            f"No successful run since {_when(check.last_success)} (stale after {stale_after}). "
            f"The burn of the SLOs it feeds is paused: {paused}."
        )
        return title, summary
    end = episode.resolved_at or check.as_of
    title = f"RESOLVED ({check.severity}): collector {collector} is fresh again"
    summary = (
        f"It was stale for {_lasted(episode.opened_at, end)}; the SLOs it feeds are evaluated "
        f"again: {paused}."
    )
    return title, summary


def _facts(
    episode: Episode, event: EventKind, current: AlertCheck | None
) -> tuple[tuple[str, str], ...]:
    check = episode.opened
    facts: list[tuple[str, str]] = [("State", event), ("Severity", check.severity)]
    if check.kind == "burn_rate":
        facts.append(("SLO", check.slo or "?"))
        facts.append(("Scope", _scope(check.group)))
        if check.window is not None:
            facts.append(("Window", f"{check.window.name}: {check.window.describe()}"))
        shown = current or check
        facts.append(
            ("Burn rate", f"{_rate(shown.long_rate)} long, {_rate(shown.short_rate)} short")
        )
        if shown.budget_remaining is not None:
            facts.append(("Budget left", f"{shown.budget_remaining * 100:.0f} %"))  # < 0: overspent
    else:
        facts.append(("Collector", check.collector or "?"))
        facts.append(("Last success", _when(check.last_success)))
    facts.append(("Opened", _when(episode.opened_at)))
    if event == "resolved" and episode.resolved_at is not None:
        facts.append(("Resolved", _when(episode.resolved_at)))
    facts.append(("Alert key", episode.key))
    facts.append(("Episode", episode.id))
    return tuple(facts)


# --- payloads ---------------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """Slack's documented escaping: ``&`` → ``&amp;``, ``<`` → ``&lt;``, ``>`` → ``&gt;``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_payload(message: AlertMessage) -> dict[str, Any]:
    """An incoming-webhook message: escaped fallback ``text`` plus Block Kit ``blocks``."""
    fields = [
        {"type": "mrkdwn", "text": _clip(f"*{label}*\n{slack_escape(value)}", 2000)}
        for label, value in message.facts[:10]
    ]
    return {
        "text": _clip(slack_escape(f"{message.title}\n{message.summary}"), SLACK_SECTION_MAX),
        "blocks": [
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": _clip(message.title, SLACK_HEADER_MAX),
                    "emoji": False,
                },
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": _clip(slack_escape(message.summary), SLACK_SECTION_MAX),
                },
            },
            {"type": "section", "fields": fields},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": slack_escape(
                            f"Throughline - as of {_when(message.as_of)} - {message.alert_key}"
                        ),
                    }
                ],
            },
        ],
    }


def _run(text: str, **style: str) -> dict[str, str]:
    return {"type": "TextRun", "text": text, **style}


def teams_payload(message: AlertMessage) -> dict[str, Any]:
    """A Teams message carrying one Adaptive Card (plain ``TextRun`` text only)."""
    color = (
        "Good"
        if message.state == "resolved"
        else ("Attention" if message.check.severity == "page" else "Warning")
    )
    body: list[dict[str, Any]] = [
        {
            "type": "RichTextBlock",
            "inlines": [_run(message.title, weight="Bolder", size="Medium", color=color)],
        },
        {"type": "RichTextBlock", "inlines": [_run(message.summary)]},
    ]
    body.extend(
        {
            "type": "RichTextBlock",
            "spacing": "None",
            "inlines": [_run(f"{label}: ", weight="Bolder"), _run(value)],
        }
        for label, value in message.facts
    )
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.2",
                    "body": body,
                },
            }
        ],
    }


def json_payload(message: AlertMessage) -> dict[str, Any]:
    """The plain ``throughline.alert/v1`` document (schema in the module docstring)."""
    check, shown = message.check, message.current or message.check
    window = check.window
    return {
        "schema": JSON_SCHEMA,
        "alert_key": message.alert_key,
        "episode_id": message.episode_id,
        "state": message.state,
        "severity": check.severity,
        "kind": check.kind,
        "title": message.title,
        "summary": message.summary,
        "slo": (
            None
            if check.slo is None
            else {"name": check.slo, "display_name": check.slo_display or check.slo}
        ),
        "group": dict(check.group),
        "budget": check.budget,
        "window": (
            None
            if window is None
            else {
                "name": window.name,
                "long_seconds": window.long.total_seconds(),
                "short_seconds": window.short.total_seconds(),
                "business_time": window.business_time,
                "factor": window.factor,
            }
        ),
        "burn_rate": (
            None
            if check.kind != "burn_rate"
            else {"long": shown.long_rate, "short": shown.short_rate}
        ),
        "budget_remaining": (
            None
            if shown.budget_remaining is None or shown.budget_left is None
            else {
                "fraction": shown.budget_remaining,
                "amount": shown.budget_left,
                "unit": shown.budget_unit,
            }
        ),
        "collector": (
            None
            if check.collector is None
            else {
                "name": check.collector,
                "last_success": _iso(check.last_success),
                "stale_after_seconds": (
                    None if check.stale_after is None else check.stale_after.total_seconds()
                ),
                "paused_slos": list(check.paused_slos),
            }
        ),
        "as_of": _iso(message.as_of),
        "opened_at": _iso(message.opened_at),
        "resolved_at": _iso(message.resolved_at),
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


PAYLOAD_BUILDERS: Mapping[PayloadFormat, Callable[[AlertMessage], dict[str, Any]]] = {
    "slack": slack_payload,
    "teams": teams_payload,
    "json": json_payload,
}


# --- sending ----------------------------------------------------------------------------------


class Notifier(Protocol):
    """Sends one message to one named target."""

    @property
    def target_names(self) -> tuple[str, ...]: ...

    def send(self, target: str, message: AlertMessage) -> DeliveryOutcome: ...


class WebhookNotifier:
    """POSTs messages to webhook targets, retrying transient failures (see the module doc).

    ``transport`` is the test seam (default: a real ``httpx.HTTPTransport``); ``sleep`` and
    ``rng`` make the backoff instant and deterministic in tests.
    """

    def __init__(
        self,
        targets: Sequence[WebhookTarget],
        *,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy = DEFAULT_NOTIFY_RETRY,
        timeout: httpx.Timeout = DEFAULT_NOTIFY_TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        proxy: str | None = None,
    ) -> None:
        names = [t.name for t in targets]
        if len(set(names)) != len(names):
            raise ValueError("webhook target names must be unique")
        self._targets = {t.name: t for t in targets}
        self._transport = transport if transport is not None else httpx.HTTPTransport(proxy=proxy)
        self._retry = retry
        self._timeout = timeout
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()

    def __enter__(self) -> WebhookNotifier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()

    @property
    def target_names(self) -> tuple[str, ...]:
        return tuple(self._targets)

    def send(self, target: str, message: AlertMessage) -> DeliveryOutcome:
        """POST ``message`` to ``target`` in its format; never raises for delivery problems."""
        hook = self._targets.get(target)
        if hook is None:
            return DeliveryOutcome(ok=False, attempts=0, error=f"unknown target {target!r}")
        body = json.dumps(PAYLOAD_BUILDERS[hook.format](message), ensure_ascii=False).encode()
        where = f"{hook.name} ({hook.masked_url})"
        policy = self._retry
        status: int | None = None
        error = "not sent"
        attempt = 0
        while attempt < policy.max_attempts:
            attempt += 1
            delay: float
            try:
                status, excerpt, retry_after = self._post(hook, body)
            except httpx.InvalidURL:
                return DeliveryOutcome(False, attempt, None, f"{where}: the webhook URL is invalid")
            except httpx.UnsupportedProtocol:
                return DeliveryOutcome(
                    False, attempt, None, f"{where}: the webhook URL must be http(s)"
                )
            except httpx.TransportError as exc:
                status = None
                error = _scrub(f"{type(exc).__name__}: {exc}", hook.url)
                retryable = policy.retry_transport_errors
                delay = policy.backoff(attempt, self._rng)
            else:
                if 200 <= status < 300:
                    logger.info("%s: sent %s of %s", where, message.state, message.alert_key)
                    return DeliveryOutcome(True, attempt, status)
                error = _scrub(f"HTTP {status}: {excerpt or '(empty body)'}", hook.url)
                retryable = status in policy.retry_statuses
                delay = policy.backoff(attempt, self._rng)
                if retry_after is not None:
                    wait = parse_retry_after(retry_after)
                    if wait is not None and wait > policy.max_retry_after:
                        retryable = False
                    elif wait is not None:
                        delay = wait
            if not retryable or attempt >= policy.max_attempts:
                break
            logger.warning(
                "%s: %s; retry %d of %d in %.2f s",
                where,
                error,
                attempt,
                policy.max_attempts - 1,
                delay,
            )
            self._sleep(delay)
        logger.warning("%s: delivery of %s failed: %s", where, message.alert_key, error)
        return DeliveryOutcome(False, attempt, status, f"{where}: {error}")

    def _post(self, hook: WebhookTarget, body: bytes) -> tuple[int, str, str | None]:
        request = httpx.Request(
            "POST",
            hook.url,
            content=body,
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": USER_AGENT,
                "Accept": "*/*",
            },
            extensions={"timeout": self._timeout.as_dict()},
        )
        response = self._transport.handle_request(request)
        try:
            response.read()
            text = " ".join(response.text.split())[:200]
        finally:
            response.close()
        return response.status_code, text, response.headers.get("Retry-After")


def _scrub(text: str, url: str) -> str:
    """``text`` with the webhook URL (and its path, the secret part) masked."""
    masked = mask_webhook_url(url)
    text = text.replace(url, masked)
    try:
        path = urlsplit(url).path
    except ValueError:
        path = ""
    if len(path) > 1:
        text = text.replace(path, "/***")
    return text


# --- dispatch ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DispatchReport:
    """What one `dispatch` did."""

    sent: tuple[Delivery, ...] = ()
    failed: tuple[Delivery, ...] = ()
    expired: tuple[Delivery, ...] = ()


def dispatch(
    store: AlertStore,
    notifier: Notifier,
    *,
    at: datetime,
    give_up_after: timedelta = timedelta(days=1),
) -> DispatchReport:
    """Send every due delivery the store holds (new ones and ones that failed before).

    Per episode and target the order is kept: while a firing notification is still failing, its
    resolve waits. Deliveries queued more than ``give_up_after`` before ``at`` expire.
    """
    sent: list[Delivery] = []
    failed: list[Delivery] = []
    expired: list[Delivery] = []
    blocked: set[tuple[str, str]] = set()
    for episode, delivery in store.due_deliveries():
        lane = (episode.id, delivery.target)
        if lane in blocked:
            continue
        if at - delivery.created_at > give_up_after:
            expired.append(
                store.record_delivery(episode.id, delivery.event, delivery.target, None, at)
            )
            logger.warning(
                "gave up on the %s notification of %s to %s after %s",
                delivery.event,
                episode.key,
                delivery.target,
                give_up_after,
            )
            continue
        outcome = notifier.send(delivery.target, message_for(episode, delivery.event))
        recorded = store.record_delivery(episode.id, delivery.event, delivery.target, outcome, at)
        if outcome.ok:
            sent.append(recorded)
        else:
            failed.append(recorded)
            blocked.add(lane)
    return DispatchReport(sent=tuple(sent), failed=tuple(failed), expired=tuple(expired))


def process(
    run: EvaluationRun,
    store: AlertStore,
    notifier: Notifier,
    *,
    give_up_after: timedelta = timedelta(days=1),
) -> tuple[list[Transition], DispatchReport]:
    """One alerting step after an evaluation: `reconcile`, then `dispatch` at ``run.as_of``."""
    transitions = reconcile(run, store, targets=notifier.target_names)
    report = dispatch(store, notifier, at=run.as_of, give_up_after=give_up_after)
    return transitions, report
