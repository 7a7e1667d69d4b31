"""The message of an alert episode's event: title, summary and facts, in plain text.

Format-neutral: `metrics.slo.notify.payloads` renders it for each channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from metrics.slo.alerts import Episode, EventKind
from metrics.slo.evaluate import AlertCheck, GroupKey, group_label
from metrics.slo.windows import describe_span


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


def when(value: datetime | None) -> str:
    """``2024-05-14 08:00 UTC``, or ``never``."""
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
        f"(since {when(episode.opened_at)}). {now}"
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
            f"No successful run since {when(check.last_success)} (stale after {stale_after}). "
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
        facts.append(("Last success", when(check.last_success)))
    facts.append(("Opened", when(episode.opened_at)))
    if event == "resolved" and episode.resolved_at is not None:
        facts.append(("Resolved", when(episode.resolved_at)))
    facts.append(("Alert key", episode.key))
    facts.append(("Episode", episode.id))
    return tuple(facts)
