"""Hostile text from the sources is shown as typed: in Markdown-rendering elements only
escaped, in tables verbatim (the tables render text, never HTML)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from metrics.facts import write_and_refresh
from store.canonical import (
    Activity,
    Batch,
    ErrorClass,
    EventObject,
    EventRow,
    ObjectRow,
    ObjectType,
    SyncAttemptRow,
    SyncStatus,
)
from store.db import make_engine
from store.migrate import upgrade
from tests.collectors.test_hostile_input import HOSTILE
from tests.pages.conftest import Store, no_errors, open_page, use_database
from throughline import ui

DEAL = "006HOSTILE01"
AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def hostile_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """A store whose deal, customer, owner, error message and payload are hostile text."""
    url = f"sqlite:///{tmp_path}/hostile.db"
    engine = make_engine(url)
    upgrade(engine)
    deal = ObjectRow(
        ObjectType.DEAL,
        "crm",
        DEAL,
        customer=HOSTILE[2],
        legal_entity="UK",
        practice="Cloud",
        owner=HOSTILE[0],
        currency="GBP",
        amount=Decimal("900.00"),
        attributes={"name": HOSTILE[1]},
        source_updated_at=AT,
    )
    won = EventRow(
        Activity.DEAL_WON,
        AT,
        "crm",
        f"{DEAL}:won",
        objects=(EventObject("crm", ObjectType.DEAL, DEAL, "deal"),),
    )
    attempt = SyncAttemptRow(
        "ipaas",
        "job_hostile",
        "crm-psa",
        "crm-psa/project_provisioning",
        SyncStatus.FAILED,
        AT,
        error_class=ErrorClass.VALIDATION,
        error_message=HOSTILE[4],
        error_signature=HOSTILE[3],
        trace_key=f"crm:opportunity:{DEAL}",
        object_system="crm",
        object_type=ObjectType.DEAL,
        object_key=DEAL,
        payload={"note": HOSTILE[5]},
    )
    write_and_refresh(engine, Batch(objects=[deal], events=[won], sync_attempts=[attempt]))
    engine.dispose()
    store = use_database(url, monkeypatch)
    yield store
    store.engine.dispose()


def markdown_sources(at: object) -> list[str]:
    """The Markdown source of every element that renders Markdown."""
    found: list[str] = []
    for kind in (
        "markdown",
        "caption",
        "title",
        "subheader",
        "header",
        "info",
        "warning",
        "error",
        "success",
    ):
        found += [str(e.value) for e in getattr(at, kind)]
    return found


@pytest.mark.parametrize("page", ["pages/case_trace.py", "pages/handoffs.py"])
def test_hostile_text_is_shown_as_typed(hostile_store: Store, page: str) -> None:
    at = open_page(page, {"case": f"deal:{DEAL}"} if "trace" in page else None)
    no_errors(at)
    rendered = markdown_sources(at)
    tables = [frame.value for frame in at.dataframe]
    cells = {str(v) for frame in tables for column in frame.columns for v in frame[column]}
    shown_somewhere = 0
    for hostile in HOSTILE:
        for source in rendered:  # never raw in Markdown; escaped where it is shown
            assert hostile not in source or hostile == ui.safe(hostile), (hostile, source)
            shown_somewhere += ui.safe(hostile) in source
        shown_somewhere += hostile in cells
    assert shown_somewhere >= 2
