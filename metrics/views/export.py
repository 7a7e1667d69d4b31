"""Tables as downloadable files: CSV (RFC 4180, UTF-8, ISO timestamps) and Excel (one sheet,
UTC times).

Both are inert when opened in a spreadsheet program (OWASP's advice on CSV injection): a text
cell starting with `=`, `+`, `-`, `@`, a tab, a carriage return or NUL would be read as a
formula, so in the CSV it gets a leading `'`, and in the Excel file it is written as a string
cell marked "quote prefix" (Excel's own leading apostrophe: shown as typed, never evaluated,
not even after editing). Numbers stay numbers: only text cells (and column names) are escaped.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pandas as pd
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.worksheet.worksheet import Worksheet

SHEET_NAME_LIMIT = 31
#: First characters that make a spreadsheet program read a cell as a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")
NOT_STORABLE = "\ufffd"


def formula_like(value: object) -> bool:
    """Whether a spreadsheet program would read `value` as a formula (text only)."""
    return isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)


def _escaped(value: Any) -> Any:
    return "'" + value if formula_like(value) else value


def _text_columns(frame: pd.DataFrame) -> list[int]:
    """Positions of the columns that may hold text (numbers and times are never escaped)."""
    return [
        i
        for i, dtype in enumerate(frame.dtypes)
        if pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    ]


def inert(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells and column names cannot start a formula (a `'` put before)."""
    out = frame.copy()
    for i in _text_columns(frame):
        column = out.iloc[:, i]
        if isinstance(column.dtype, pd.CategoricalDtype):
            column = column.astype(object)
        out.isetitem(i, column.map(_escaped))
    out.columns = [_escaped(name) for name in out.columns]
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict | list | tuple | set):
        value = str(value)
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub(NOT_STORABLE, value)
    return value


def for_excel(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy Excel can hold: timezone-aware times as naive UTC, no Decimals or containers, and
    the control characters a worksheet cannot hold (all below a space but tab, line feed and
    carriage return) replaced by U+FFFD."""
    out = frame.copy()
    for i, dtype in enumerate(out.dtypes):
        column = out.iloc[:, i]
        if isinstance(dtype, pd.DatetimeTZDtype):
            out.isetitem(i, column.dt.tz_convert("UTC").dt.tz_localize(None))
        elif isinstance(dtype, pd.CategoricalDtype):
            out.isetitem(i, column.astype(str).map(_plain))
        elif pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
            out.isetitem(i, column.map(_plain))
    out.columns = [_plain(name) for name in out.columns]
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The table as RFC 4180 CSV (CRLF line ends, so a field holding a line break of either
    kind is quoted; UTF-8 with a BOM so spreadsheet programs read accents right), text cells
    that could start a formula escaped with a leading `'`."""
    text: str = inert(frame).to_csv(index=False, lineterminator="\r\n")
    return text.encode("utf-8-sig")


def excel_bytes(frame: pd.DataFrame, sheet: str = "data") -> bytes:
    """The table as an .xlsx workbook with one sheet (times in UTC), no cell a formula."""
    buffer = io.BytesIO()
    name = sheet[:SHEET_NAME_LIMIT] or "data"
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for_excel(frame).to_excel(writer, sheet_name=name, index=False)
        _as_text(writer.sheets[name], _text_columns(frame))
    return buffer.getvalue()


def _as_text(sheet: Worksheet, text_columns: list[int]) -> None:
    """Every header and text cell that openpyxl took for a formula (a string starting with
    `=`), or that a spreadsheet would, made a quote-prefixed string cell."""
    cells = [*sheet[1]]
    for i in text_columns:
        cells += [row[0] for row in sheet.iter_rows(min_row=2, min_col=i + 1, max_col=i + 1)]
    for cell in cells:
        if cell.data_type == "f" or formula_like(cell.value):
            cell.data_type = "s"
            cell.quotePrefix = True
