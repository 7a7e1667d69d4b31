"""Tables as downloadable files: CSV (UTF-8, ISO timestamps) and Excel (one sheet, UTC times)."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pandas as pd

SHEET_NAME_LIMIT = 31


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict | list | tuple | set):
        return str(value)
    return value


def for_excel(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy Excel can hold: timezone-aware times as naive UTC, no Decimals or containers."""
    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            out[name] = column.dt.tz_convert("UTC").dt.tz_localize(None)
        elif isinstance(column.dtype, pd.CategoricalDtype):
            out[name] = column.astype(str)
        elif column.dtype == object:
            out[name] = column.map(_plain)
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The table as CSV (UTF-8 with a BOM so spreadsheet programs read accents right)."""
    text: str = frame.to_csv(index=False)
    return text.encode("utf-8-sig")


def excel_bytes(frame: pd.DataFrame, sheet: str = "data") -> bytes:
    """The table as an .xlsx workbook with one sheet (times in UTC)."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for_excel(frame).to_excel(
            writer, sheet_name=sheet[:SHEET_NAME_LIMIT] or "data", index=False
        )
    return buffer.getvalue()
