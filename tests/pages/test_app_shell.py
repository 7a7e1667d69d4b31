"""What every page shares: navigation, empty and broken stores, start-up deep links, exports."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import inspect
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from foundation import settings as settings_module
from metrics.views.common import describe, period_bounds, period_filters
from metrics.views.export import csv_bytes, excel_bytes
from metrics.views.trace import parse_case_ref
from metrics.views.trace_timeline import deep_link
from metrics.views.unbilled import snapshot_dates
from store.db import make_engine
from tests.pages.conftest import APP, Store, no_errors, open_app, open_page, use_database
from throughline import ui

ROOT = APP.parent
PAGES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").glob("*.py"))


def test_every_file_in_pages_is_in_the_navigation_and_open_to_the_admin() -> None:
    navigated = sorted(ui.PAGES[key] for pages in ui.NAVIGATION.values() for key, *_ in pages)
    assert navigated == PAGES
    assert sorted(ui.PAGES.values()) == PAGES
    assert all(ui.ANONYMOUS.can_open(key) for key in ui.PAGES)


def test_no_page_holds_sql_or_unsafe_html() -> None:
    for page in PAGES:
        text = (ROOT / page).read_text(encoding="utf-8")
        for banned in ("sqlalchemy", "select(", "unsafe_allow_html", ":material/", "httpx"):
            assert banned not in text, f"{page} uses {banned}"


@pytest.mark.parametrize("page", PAGES)
def test_every_page_on_an_empty_store_says_what_to_do(empty_store: Store, page: str) -> None:
    at = open_page(page)
    no_errors(at)
    messages = " ".join(i.value for i in at.info) + " ".join(s.value for s in at.success)
    assert "Nothing has been collected yet" in messages
    assert at.title[0].value


def test_an_unmigrated_database_is_reported_in_a_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/blank.db"
    make_engine(url).dispose()
    use_database(url, monkeypatch)
    at = open_app()
    assert not at.exception
    assert at.error[0].value == (
        "The database is empty: run `throughline db upgrade` (or `throughline demo`)."
    )
    engine = make_engine(url)
    assert inspect(engine).get_table_names() == [], "the UI created no table"
    engine.dispose()
    settings_module.get_settings.cache_clear()


def test_a_deep_link_opened_first_after_start_up_still_gets_the_filters(
    demo: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.undo()  # the autouse navigation-mode patch: start like a fresh server
    monkeypatch.setenv("THROUGHLINE_DATABASE_URL", demo.url)
    monkeypatch.setenv("THROUGHLINE_AUTH__ALLOW_ANONYMOUS", "true")
    settings_module.get_settings.cache_clear()
    PagesManager.uses_pages_directory = None
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.query_params = {"entity": ["DE"]}
    at.run()  # AppTest always starts at the default page: go to a page file directly next
    at.switch_page("pages/invoice_cycle.py").run()
    no_errors(at)
    assert at.title[0].value == "Invoice cycle"
    assert [m.key for m in at.sidebar.multiselect] == ["f_entity", "f_practice", "f_customer"]
    assert at.multiselect(key="f_entity").value == ["DE"]
    assert PagesManager.uses_pages_directory is False


def test_exports_hold_the_table_in_csv_and_excel() -> None:
    frame = pd.DataFrame(
        {
            "deal_key": ["006A", "006B"],
            "customer": ["Zoë AG", "Ørsted"],
            "won_at": pd.to_datetime(["2026-10-01 09:00", "2026-10-02 10:30"], utc=True),
            "amount_rc": [1234.5, None],
            "bucket": pd.Categorical(["0-30", "120+"]),
        }
    )
    text = csv_bytes(frame).decode("utf-8-sig")
    assert text.splitlines()[0] == "deal_key,customer,won_at,amount_rc,bucket"
    assert "Zoë AG" in text and "2026-10-01 09:00:00+00:00" in text
    book = openpyxl.load_workbook(io.BytesIO(excel_bytes(frame, "stuck-handoffs")))
    sheet = book["stuck-handoffs"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("deal_key", "customer", "won_at", "amount_rc", "bucket")
    assert rows[1] == ("006A", "Zoë AG", datetime(2026, 10, 1, 9, 0), 1234.5, "0-30")
    assert rows[2][3] is None


def test_periods_snapshots_case_refs_and_deep_links() -> None:
    as_of = datetime(2026, 10, 31, 16, tzinfo=UTC)
    assert period_bounds("4w", as_of) == (date(2026, 10, 4), date(2026, 10, 31))
    assert period_bounds("ytd", as_of) == (date(2026, 1, 1), date(2026, 10, 31))
    assert period_bounds("custom", as_of, date(2026, 9, 30), date(2026, 9, 1)) == (
        date(2026, 9, 1),
        date(2026, 9, 30),
    )
    f = period_filters(date(2026, 9, 1), date(2026, 9, 30), ("UK",))
    assert f.end == date(2026, 10, 1) and describe(f) == "01 Sep 2026 – 30 Sep 2026; entity UK"
    dates = snapshot_dates(date(2026, 8, 1), date(2026, 10, 31))
    assert len(dates) <= 6 and dates[-1] == date(2026, 11, 1)
    assert all(d.weekday() == 0 for d in dates[:-1]) and dates == sorted(dates)
    assert parse_case_ref("deal:006Dn0000000064IAA") == ("deal", "006Dn0000000064IAA")
    for bad in ("invoice:", "spaceship:1", "deal", "deal:" + "x" * 201):
        with pytest.raises(ValueError):
            parse_case_ref(bad)
    urls = {"crm": "http://127.0.0.1:8765/crm"}
    assert deep_link(urls, "crm", "deal", "006/x y") == "http://127.0.0.1:8765/crm/deal/006%2Fx%20y"
    assert deep_link(urls, "erp", "invoice", "1") is None


def test_values_are_formatted_for_people() -> None:
    assert ui.fmt(None, "share") == "—" and ui.fmt(float("nan"), "hours") == "—"
    assert ui.fmt(0.0796, "share") == "8.0%"
    assert (
        ui.fmt(0.004, "business_days") == "< 0.1 bd" and ui.fmt(4.41, "business_days") == "4.4 bd"
    )
    assert ui.fmt(218.7, "hours") == "9.1 days" and ui.fmt(3.6, "hours") == "3.6 h"
    assert ui.fmt(1934299.1, "money", "USD") == "USD 1.93M"
    assert ui.fmt(473380.6, "money", "USD") == "USD 473.4k"
    assert ui.fmt(7279, "count") == "7,279"
    assert ui.ago(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 0, 30, tzinfo=UTC)) == (
        "30 min ago"
    )
