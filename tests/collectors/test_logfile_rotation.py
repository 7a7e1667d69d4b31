"""Log files rotated several times between runs: the file being read is found among the rotated
generations by its fingerprint and finished, every newer generation is read oldest first, then
the live file — each line stored once, none lost; a generation deleted unread is reported."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from collectors.log_generations import generations
from collectors.logfiles import LogSource, collector
from collectors.runner import RunReport
from metrics.facts import write_and_refresh
from store.tables import CollectorRun
from store.write import CursorUpdate
from tests.collectors.test_logfiles import FIELDS, _mapped, _window, append, cursor, expected, tail


@pytest.fixture
def store(sqlite_engine: Engine) -> Engine:
    from store.migrate import upgrade

    upgrade(sqlite_engine)
    return sqlite_engine


def rotate(path: Path, *, compress: bool = False, copytruncate: bool = False) -> None:
    """What logrotate does: shift ``path.N`` to ``path.N+1``, then ``path`` to ``path.1``
    (renamed, or copied and truncated); with ``compress`` (and ``delaycompress``) every
    generation from ``.2`` on is gzip'd."""
    numbered = sorted(
        (int(p.name.removeprefix(path.name + ".").removesuffix(".gz")), p)
        for p in path.parent.glob(path.name + ".*")
    )
    for number, old in reversed(numbered):
        new = path.parent / old.name.replace(f".{number}", f".{number + 1}", 1)
        os.rename(old, new)
        if compress and new.suffix != ".gz":
            with new.open("rb") as plain, gzip.open(f"{new}.gz", "wb") as packed:
                shutil.copyfileobj(plain, packed)
            new.unlink()
    if copytruncate:
        shutil.copyfile(path, path.parent / f"{path.name}.1")
        path.write_bytes(b"")
    else:
        os.rename(path, path.parent / f"{path.name}.1")


def stored(engine: Engine) -> list[str]:
    """Every stored attempt's trace key, duplicates kept (the table has no other key)."""
    with engine.connect() as conn:
        return sorted(r[0] for r in conn.execute(text("SELECT trace_key FROM sync_attempts")))


def run_log(engine: Engine) -> CollectorRun:
    with Session(engine) as s:
        latest = s.scalars(select(CollectorRun).order_by(CollectorRun.id.desc())).first()
    assert latest is not None
    return latest


def test_rotated_twice_between_runs_the_middle_file_is_read_once(
    store: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "sync.log"
    append(path, *range(0, 10))
    assert tail(store, path).records_read == 10
    append(path, *range(10, 15))  # written after the run, then rotated
    rotate(path)
    append(path, *range(15, 25))  # the middle file: never live during a run
    rotate(path)
    append(path, *range(25, 30))
    report = tail(store, path, page_lines=4)
    assert report.status == "success", report.error
    assert report.records_read == 20 and report.rows_written == 20  # nothing read twice
    assert stored(store) == expected(range(0, 30))
    assert tail(store, path).records_read == 0
    append(path, 30)
    assert tail(store, path).records_read == 1
    assert stored(store) == expected(range(0, 31))


def test_rotated_three_times_with_compressed_generations(store: Engine, tmp_path: Path) -> None:
    path = tmp_path / "sync.log"
    append(path, *range(0, 8))
    tail(store, path)
    append(path, *range(8, 12))
    for start in (12, 20, 28):  # three rotations, each followed by new lines
        rotate(path, compress=True)
        append(path, *range(start, start + 8))
    names = [p.name for p in generations(str(path))]
    assert names == ["sync.log.3.gz", "sync.log.2.gz", "sync.log.1"]
    report = tail(store, path, page_lines=5)
    assert report.status == "success", report.error
    assert report.records_read == 4 + 8 + 8 + 8
    assert stored(store) == expected(range(0, 36))
    assert tail(store, path).records_read == 0


def test_a_crash_half_way_through_a_generation_resumes_there_after_another_rotation(
    store: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "sync.log"
    append(path, *range(0, 6))
    tail(store, path)
    append(path, *range(6, 10))
    rotate(path)
    append(path, *range(10, 22))  # the middle generation, 12 lines
    rotate(path)
    append(path, *range(22, 26))
    c = collector("logs", [LogSource("mule", str(path), "jsonl", FIELDS)])
    object.__setattr__(c.streams[0], "page_lines", 4)
    pages = c.streams[0].fetch_pages(None, _window(), cursor(store))  # type: ignore[arg-type]
    read_before_crash = 0
    for page, saved in pages:  # the rest of .2 (one page), then two pages of .1 — then it dies
        write_and_refresh(store, _mapped(c.streams[0], page), CursorUpdate("logs", "mule", saved))
        read_before_crash += len(page)
        if read_before_crash == 12:
            break
    pages.close()
    assert cursor(store)["line"] == 8  # 8 of the middle generation's 12 lines are stored
    rotate(path)  # rotated once more before the next run: the middle file is now .2
    append(path, *range(26, 30))
    report = tail(store, path, page_lines=4)
    assert report.status == "success", report.error
    assert report.records_read == 4 + 4 + 4  # the rest of the middle file, .1, the live file
    assert read_before_crash + report.records_read == 30 - 6
    assert stored(store) == expected(range(0, 30))


def test_a_generation_deleted_before_it_was_read_is_named_in_the_run_log(
    store: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "sync.log"
    append(path, *range(0, 10))
    tail(store, path)
    append(path, *range(10, 15))  # lost with its file
    rotate(path)
    append(path, *range(15, 20))
    rotate(path)
    append(path, *range(20, 25))
    (tmp_path / "sync.log.2").unlink()  # `rotate 1`: the oldest generation went before the run
    report = tail(store, path)
    assert report.status == "failed"
    assert report.records_read == 10 and report.rows_written == 10  # .1 and the live file
    assert stored(store) == expected(range(0, 10), range(15, 25))
    logged = run_log(store)
    assert logged.status == "failed" and logged.error is not None
    assert "read as sync.log up to line 10" in logged.error
    assert "lines written to it after the last run are lost" in logged.error
    assert f"{path}.[0-9]*" in logged.error
    assert "lines written to it after the last run are lost" in caplog.text
    again = tail(store, path)  # reported once; the next run carries on from the live file
    assert again.status == "success" and again.records_read == 0


def test_a_damaged_compressed_generation_is_reported_and_the_rest_read(
    store: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "sync.log"
    append(path, *range(0, 5))
    tail(store, path)
    rotate(path)
    append(path, *range(5, 10))
    rotate(path, compress=True)
    append(path, *range(10, 12))
    damaged = tmp_path / "sync.log.2.gz"
    damaged.write_bytes(damaged.read_bytes()[:12])  # cut short: not a readable gzip file
    report = tail(store, path)
    assert report.status == "failed" and report.error is not None
    assert "read as sync.log up to line 5" in report.error  # its fingerprint cannot be read
    assert stored(store) == expected(range(0, 5), range(5, 12))


def test_copytruncate_twice_between_runs_loses_and_doubles_nothing(
    store: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "sync.log"
    append(path, *range(0, 20))
    tail(store, path)
    append(path, *range(20, 24))
    rotate(path, copytruncate=True)
    append(path, *range(24, 30))
    rotate(path, copytruncate=True)
    append(path, *range(30, 33))
    report = tail(store, path, page_lines=3)
    assert report.status == "success", report.error
    assert report.records_read == 4 + 6 + 3
    assert stored(store) == expected(range(0, 33))
    assert tail(store, path).records_read == 0


def test_dated_generations_from_a_configured_pattern_are_read_in_date_order(
    store: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "sync.log"
    append(path, *range(0, 5))
    tail(store, path, rotated=("{path}-*",))
    append(path, *range(5, 7))
    os.rename(path, tmp_path / "sync.log-20260305")  # logrotate dateext
    append(path, *range(7, 10))
    with (tmp_path / "sync.log-20260306.gz").open("wb") as f:
        f.write(gzip.compress(path.read_bytes()))
    path.unlink()
    append(path, *range(10, 12))
    report = tail(store, path, rotated=("{path}-*",))
    assert report.status == "success", report.error
    assert report.records_read == 2 + 3 + 2
    assert stored(store) == expected(range(0, 12))


def test_a_file_empty_at_the_last_run_then_rotated_is_read_from_its_generation(
    store: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "sync.log"
    path.write_bytes(b"")
    tail(store, path)  # nothing to fingerprint yet
    append(path, *range(0, 4))
    rotate(path)
    append(path, *range(4, 6))
    report: RunReport = tail(store, path)
    assert report.status == "success", report.error
    assert report.records_read == 6
    assert stored(store) == expected(range(0, 6))
