"""Text for people: values as they read them (``1.23M``, ``4.5 bd``, ``3 min ago``) and text from
the data or the URL escaped so that Streamlit shows it as typed."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime


def ago(at: datetime, now: datetime | None = None) -> str:
    """``3 min ago`` / ``2 h ago`` / ``4 days ago``."""
    seconds = ((now or datetime.now(UTC)) - at).total_seconds()
    if seconds < 90:
        return "just now"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def safe(value: object) -> str:
    """Text from the data or the URL, escaped so that Markdown-rendering elements show it as
    typed (no links, images, emphasis, math or icon shortcodes)."""
    return _MARKDOWN.sub(r"\\\1", str(value))


def compact(value: float) -> str:
    """1234567 → ``1.23M``; 12345 → ``12.3k``; 123 → ``123``."""
    size = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            scaled = value / limit
            return f"{scaled:,.2f}{suffix}" if abs(scaled) < 10 else f"{scaled:,.1f}{suffix}"
    return f"{value:,.0f}"


def fmt(value: float | None, unit: str, currency: str = "") -> str:
    """A KPI value as people read it (``—`` when there is none)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    v = float(value)
    if unit == "business_days":
        return f"{v:,.1f} bd" if abs(v) >= 0.05 or v == 0 else "< 0.1 bd"
    if unit == "hours":
        return f"{v:,.1f} h" if abs(v) < 48 else f"{v / 24:,.1f} days"
    if unit == "days":
        return f"{v:,.1f} days"
    if unit == "share":
        return f"{v:.1%}"
    if unit == "money":
        return f"{currency} {compact(v)}".strip()
    if unit == "money_days":
        return f"{compact(v)} {currency}·days".strip()
    return f"{v:,.0f}"
