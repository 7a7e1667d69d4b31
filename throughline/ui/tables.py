"""Tables with CSV and Excel downloads (each export audited), readable default columns, the
house style of charts and what a click on a table or chart selected."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from metrics.views import audit
from metrics.views.export import csv_bytes, excel_bytes
from throughline.ui.data import engine
from throughline.ui.visitor import access

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PERCENT_HINTS = ("share", "within_target", "rate", "attainment", "budget_remaining", "consumed")
MONEY_HINTS = ("amount", "0-30", "31-60", "61-90", "91-120", "120+")


def when(label: str) -> Any:
    """A timestamp column shown to the minute (times are UTC)."""
    return st.column_config.DatetimeColumn(label, format="YYYY-MM-DD HH:mm")


def money(label: str) -> Any:
    """An amount column with thousands separators (shown rounded to whole units)."""
    return st.column_config.NumberColumn(label, format="localized")


def _is_money(name: str) -> bool:
    return any(h == name or name.startswith(h) for h in MONEY_HINTS)


def _column(name: str, dtype: Any) -> Any:
    """A readable default column: spaces for underscores, UTC times, rounded numbers."""
    label = name.replace("_", " ")
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(dtype):
        return when(f"{label} (UTC)")
    if pd.api.types.is_float_dtype(dtype):
        if any(h in name for h in PERCENT_HINTS):
            return st.column_config.NumberColumn(label, format="percent")
        if _is_money(name):
            return money(label)
        return st.column_config.NumberColumn(label, format="%.1f")
    return st.column_config.Column(label)


def table(
    frame: pd.DataFrame,
    key: str,
    *,
    name: str,
    columns: Mapping[str, Any] | None = None,
    select: bool = False,
    hide: Sequence[str] = (),
) -> int | None:
    """A table with CSV and Excel downloads; with `select`, the clicked row's index (or None)."""
    shown = frame.drop(columns=[c for c in hide if c in frame.columns])
    amounts = [c for c in shown.columns if _is_money(str(c))]
    if amounts:  # whole units on screen (Decimals too); the downloads keep every decimal
        shown = shown.assign(
            **{str(c): pd.to_numeric(shown[c], errors="coerce").round(0) for c in amounts}
        )
    config: dict[str, Any] = {str(c): _column(str(c), shown[c].dtype) for c in shown.columns}
    config.update(columns or {})
    options: dict[str, Any] = {
        "hide_index": True,
        "width": "stretch",
        "column_config": config,
        "key": key,
    }
    if select:
        event = st.dataframe(shown, on_select="rerun", selection_mode="single-row", **options)
        rows = list(_selection(event).get("rows") or [])
    else:
        st.dataframe(shown, **options)
        rows = []
    downloads(frame, key, name)
    return int(rows[0]) if rows else None


def downloads(frame: pd.DataFrame, key: str, name: str) -> None:
    """CSV and Excel download buttons for a table (files are made, and the export audited,
    when clicked)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "table"
    who, target = access(), engine()

    def exported(kind: str, make: Callable[[], bytes]) -> Callable[[], bytes]:
        def build() -> bytes:
            audit.record_for(target, who, "export", f"{kind} export of {name} ({len(frame)} rows)")
            return make()

        return build

    formats: tuple[tuple[str, str, str, Callable[[], bytes]], ...] = (
        ("CSV", "csv", "text/csv", lambda: csv_bytes(frame)),
        ("Excel", "xlsx", XLSX_MIME, lambda: excel_bytes(frame, name)),
    )
    with st.container(horizontal=True):
        for label, ext, mime, make in formats:
            st.download_button(
                label,
                data=exported(label, make),
                file_name=f"{name}.{ext}",
                mime=mime,
                key=f"{key}_{ext}",
                on_click="ignore",
                icon="⬇️",
                type="tertiary",
            )


def layout(fig: Any, height: int = 300, **options: Any) -> Any:
    """The house style of a Plotly figure: tight margins, the legend above the plot."""
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0},
        **options,
    )
    return fig


def _selection(event: Any) -> Mapping[str, Any]:
    """The ``selection`` of a chart or table event (a dict in tests, attribute-dict live)."""
    found = event.get("selection") if isinstance(event, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def chart_pick(event: Any, field: str = "x") -> Any:
    """The `field` of the first point clicked in a Plotly chart (None when nothing is)."""
    points = list(_selection(event).get("points") or [])
    if not points or not isinstance(points[0], Mapping):
        return None
    return points[0].get(field)
