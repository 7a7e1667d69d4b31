"""A link's parameters are checked before a page uses them: a bad value gets one sentence and the
page's default view, never a traceback (`throughline.ui.params`, `throughline.ui.param`)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.pages.conftest import Store, open_app, open_page
from throughline.ui import params

NOT_UNDERSTOOD = "value was not understood, so the default view is shown"


@pytest.mark.parametrize(
    ("page", "query", "name"),
    [
        ("pages/sync_errors.py", {"focus": "class|timeout", "attempt": "²"}, "attempt"),
        ("pages/sync_errors.py", {"focus": "class|timeout", "attempt": "9" * 26}, "attempt"),
        ("pages/sync_errors.py", {"focus": "point|2026-13-45|x"}, "focus"),
        ("pages/invoice_cycle.py", {"group": "foo=bar"}, "group"),
        ("pages/invoice_cycle.py", {"week": "not-a-week"}, "week"),
        ("pages/handoffs.py", {"week": "9999-12-31"}, "week"),
        ("pages/unbilled.py", {"by": "<script>"}, "by"),
        ("pages/unbilled.py", {"focus": "no separator"}, "focus"),
        ("pages/overview.py", {"cash": "x" * 600}, "cash"),
        ("pages/case_trace.py", {"case": "spaceship:1"}, "case"),
    ],
)
def test_a_bad_link_parameter_gets_a_sentence_and_the_default_view(
    demo: Store, page: str, query: dict[str, Any], name: str
) -> None:
    at = open_page(page, query)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    notes = [i.value for i in at.info if NOT_UNDERSTOOD in i.value]
    assert len(notes) == 1 and f"“{name}”" in notes[0]
    assert name not in at.query_params
    assert at.title[0].value  # the page went on and drew itself


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ({"from": "0001-01-01", "to": "9999-12-31"}, ["from", "to"]),
        ({"from": "2026-01-01", "to": "+"}, ["to"]),
    ],
)
def test_a_shared_link_with_a_period_out_of_range_opens_on_the_default_period(
    demo: Store, query: dict[str, Any], names: list[str]
) -> None:
    at = open_app(query)  # the filters are read from the link on a session's first run
    assert not at.exception and not at.error
    notes = [i.value for i in at.info if NOT_UNDERSTOOD in i.value]
    assert len(notes) == len(names) and all(
        f"“{n}”" in t for n, t in zip(names, notes, strict=True)
    )
    assert at.selectbox(key="f_period").value == "13w"


def test_a_good_link_parameter_is_kept(demo: Store) -> None:
    at = open_page("pages/unbilled.py", {"by": "practice"})
    assert not at.exception and not any(NOT_UNDERSTOOD in i.value for i in at.info)
    assert at.query_params["by"] in ("practice", ["practice"])


@given(st.text(max_size=40))
def test_any_text_either_parses_as_a_record_id_or_raises_value_error(value: str) -> None:
    try:
        parsed = params.record_id(value)
    except ValueError:
        return
    assert value.isascii() and value.isdigit() and 1 <= parsed < 2**63


@given(st.text(max_size=20))
def test_any_text_either_parses_as_a_day_in_range_or_raises_value_error(value: str) -> None:
    try:
        parsed = params.day(value)
    except ValueError:
        return
    assert date(1900, 1, 1) <= parsed <= date(2199, 12, 31)


def test_parsers_accept_what_the_pages_write() -> None:
    assert params.record_id("9223372036854775807") == 2**63 - 1
    assert params.day("2026-03-31") == date(2026, 3, 31)
    assert params.pair("=", ("practice",))("practice=Cloud=Ops") == ("practice", "Cloud=Ops")
    assert params.one_of(("a", "b"))("b") == "b"
    for bad in ("0", "-1", "9223372036854775808", "１２"):
        with pytest.raises(ValueError):
            params.record_id(bad)
