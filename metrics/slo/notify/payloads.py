"""Webhook payloads for an `AlertMessage`: Slack, Microsoft Teams and plain JSON.

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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

from metrics.slo.notify.message import AlertMessage, when

PayloadFormat = Literal["slack", "teams", "json"]
JSON_SCHEMA = "throughline.alert/v1"
#: Slack's limit for a header block's text.
SLACK_HEADER_MAX = 150
#: Slack's limit for a section's text.
SLACK_SECTION_MAX = 3000


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
                            f"Throughline - as of {when(message.as_of)} - {message.alert_key}"
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
