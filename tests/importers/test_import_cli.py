"""`throughline import ocel|events` on the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.importers.conftest import EXAMPLE_MAPPING, FIXTURES, counts, pg_env
from tests.test_cli import run


def test_a_mostly_quarantined_import_exits_1_with_what_it_stored_and_the_top_reasons(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = pg_env(engine, monkeypatch)
    path = FIXTURES / "bad_rows.csv"
    argv = ("import", "events", str(path), "--mapping", str(EXAMPLE_MAPPING), "--no-progress")
    assert run(monkeypatch, url, *argv) == 1
    printed = capsys.readouterr()
    assert printed.out == (
        f"{path}: 7 rows read; new or changed: 2 events, 2 objects, 3 event-object and 1 "
        "object-object relations; 5 quarantined (run 1)\n"
    )
    assert printed.err == (
        "throughline import events: import-events:bad_rows.csv: 5 of 7 rows quarantined (71%, "
        "more than 50%): the import failed (rows already stored stay; importing again after "
        "fixing the mapping stores nothing twice). Top reasons:\n"
        "  1 × timestamp (occurred_at) is missing\n"
        "  1 × unknown activity 'Opportunity Teleported': not under `activities` in the mapping\n"
        "  1 × timestamp (occurred_at) has no timezone (give an offset, or set `timezone` in the "
        "mapping)\n"
        "  1 × amount is not a number\n"
        "  1 × not valid UTF-8\n"
    )
    assert run(monkeypatch, url, *argv) == 1
    assert "new or changed: 0 events, 0 objects" in capsys.readouterr().out
    assert counts(engine)["events"] == 2


def test_import_ocel_reads_a_foreign_log_with_its_mapping(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = pg_env(engine, monkeypatch)
    argv = (
        "import",
        "ocel",
        str(FIXTURES / "foreign.ocel.json"),
        "--mapping",
        str(FIXTURES / "foreign-ocel.yaml"),
    )
    assert run(monkeypatch, url, *argv) == 0
    out = capsys.readouterr().out
    assert "12 rows read; new or changed: 2 events, 2 objects" in out
    assert out.endswith(
        "; 6 quarantined, 2 skipped by the mapping (run 1)\n"
        "quarantined, by reason:\n"
        "  1 × value is not a number\n"
        "  1 × object-to-object qualifier 'manages' is not a Throughline link: map it under "
        "`link_qualifiers`\n"
        "  1 × unknown object type 'Spaceship': not under `object_types` in the mapping\n"
        "  1 × unknown activity 'Teleport': not under `activities` in the mapping\n"
        "  1 × time has no timezone (give an offset, or set `timezone` in the mapping)\n"
        "  1 × relates to an object that the log does not define\n"
    )
    assert counts(engine) == {"objects": 2, "events": 2, "event_objects": 3, "object_links": 1}


def test_import_fails_with_a_sentence_naming_the_file_and_field(
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    url = pg_env(engine, monkeypatch)
    bad = tmp_path / "map.yaml"
    bad.write_text("source_system: dw\nactivity: activity\ntimestamp: at\nobjects: {}\n")
    csv = FIXTURES / "events.csv"
    assert run(monkeypatch, url, "import", "events", str(csv), "--mapping", str(bad)) == 1
    assert f"{bad}: objects: Dictionary should have at least 1 item" in capsys.readouterr().err
    missing = tmp_path / "nope.csv"
    argv = ("import", "events", str(missing), "--mapping", str(EXAMPLE_MAPPING))
    assert run(monkeypatch, url, *argv) == 1
    assert f"throughline import events: {missing}: no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: --mapping is required for events
        run(monkeypatch, url, "import", "events", str(csv))
