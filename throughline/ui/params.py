"""Parsers for the dashboard's URL parameters: a value a link carries is checked before any page
uses it, and a bad one raises `ValueError` (the page then says so in one sentence and shows its
default view; see `throughline.ui.param`).

Pure functions, testable without Streamlit.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import date

#: Days a link may name: wide enough for any firm's history, narrow enough that every date
#: computation on them (a week's end, a period's next day, a pandas timestamp) stays in range.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2199, 12, 31)
MAX_ID = 2**63 - 1
MAX_TEXT = 500


def text(value: str) -> str:
    """Any text of reasonable length."""
    if len(value) > MAX_TEXT:
        raise ValueError(f"longer than {MAX_TEXT} characters")
    return value


def day(value: str) -> date:
    """An ISO date (``2026-03-31``) between 1900 and 2199."""
    if not value.isascii():
        raise ValueError("not an ISO date")
    parsed = date.fromisoformat(value)
    if not FIRST_DAY <= parsed <= LAST_DAY:
        raise ValueError("outside the years 1900–2199")
    return parsed


def record_id(value: str) -> int:
    """A stored record's id: ASCII digits, 1 … 2⁶³−1 (``²`` or a 26-digit number is not)."""
    if not (value.isascii() and value.isdigit()) or len(value) > 19:
        raise ValueError("not a record id")
    number = int(value)
    if not 1 <= number <= MAX_ID:
        raise ValueError("not a record id")
    return number


def one_of(options: Collection[str]) -> Callable[[str], str]:
    """A parser accepting only `options`."""

    def parse(value: str) -> str:
        if value not in options:
            raise ValueError("not one of the choices")
        return value

    return parse


def pair(separator: str, first: Collection[str] | None = None) -> Callable[[str], tuple[str, str]]:
    """A parser of ``a<separator>b`` (with `a` one of `first`, when given)."""

    def parse(value: str) -> tuple[str, str]:
        head, sep, tail = text(value).partition(separator)
        if not sep or not head or (first is not None and head not in first):
            raise ValueError("not a valid selection")
        return head, tail

    return parse
