"""Peak memory and speed of `import events` at two sizes: memory must stay flat.

Generates a CSV event log in the shape of ``examples/event-log-mapping.yaml`` (per deal: won,
project created, four work items logged and approved, invoice created and posted, payment: 13
events), then imports it twice into an empty SQLite store, each import in its own process; the
parent reads each child's peak RSS from ``os.wait4``. The second import must add nothing.

    .venv/bin/python bench/import_memory.py                      # 100 000 and 1 000 000 events
    .venv/bin/python bench/import_memory.py --sizes 20000 200000 --keep /tmp/bench

The ratio that matters is peak RSS at the large size over peak RSS at the small size (≈ 1).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "examples" / "event-log-mapping.yaml"
COLUMNS = (
    "event_id",
    "activity",
    "occurred_at",
    "deal_id",
    "project_id",
    "work_item_id",
    "invoice_id",
    "payment_id",
    "amount",
    "currency",
    "customer",
    "legal_entity",
    "practice",
    "owner",
    "user",
    "automated",
    "billable",
    "work_date",
    "period_end",
)
EVENTS_PER_DEAL = 13
START = datetime(2024, 1, 1, 9, tzinfo=UTC)
ENTITIES = (("US", "USD"), ("UK", "GBP"), ("DE", "EUR"))


def _deal(n: int) -> Iterator[dict[str, Any]]:
    """The 13 events of deal `n`, spread over two years."""
    entity, currency = ENTITIES[n % 3]
    won = START + timedelta(minutes=37 * n)
    d, p, i = f"D{n:07d}", f"P{n:07d}", f"I{n:07d}"
    dims = {
        "customer": f"Customer {n % 500}",
        "legal_entity": entity,
        "practice": ("Cloud", "Data", "Strategy")[n % 3],
        "currency": currency,
    }

    def at(hours: float) -> str:
        return (won + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")

    yield {
        "activity": "Opportunity Won",
        "occurred_at": at(0),
        "deal_id": d,
        "amount": 10_000 + n % 7_000,
        "owner": "sam",
        "user": "sam",
        **dims,
    }
    yield {
        "activity": "Project Created",
        "occurred_at": at(30 + n % 40),
        "deal_id": d,
        "project_id": p,
        "owner": "pat",
        "user": "integration",
        "automated": "true",
        **dims,
    }
    for k in range(4):
        work = {
            "project_id": p,
            "work_item_id": f"W{n:07d}{k}",
            "amount": 800 + 100 * k,
            "owner": "lee",
            "currency": currency,
            "billable": "true",
            "work_date": (won + timedelta(days=5 + k)).date().isoformat(),
        }
        yield {
            "activity": "Time Logged",
            "occurred_at": at(24 * (5 + k) + 8),
            "user": "lee",
            **work,
        }
        yield {
            "activity": "Time Approved",
            "occurred_at": at(24 * (6 + k) + 9),
            "user": "pat",
            **work,
        }
    invoice = {
        "project_id": p,
        "invoice_id": i,
        "amount": 3800,
        "user": "kim",
        "period_end": (won + timedelta(days=14)).date().isoformat(),
        **dims,
    }
    yield {"activity": "Invoice Created", "occurred_at": at(24 * 15 + 10), **invoice}
    yield {"activity": "Invoice Posted", "occurred_at": at(24 * 16 + 14), **invoice}
    yield {
        "activity": "Payment Received",
        "occurred_at": at(24 * 45),
        "invoice_id": i,
        "payment_id": f"PAY{n:07d}",
        "amount": 3800,
        "currency": currency,
        "user": "kim",
    }


def generate(path: Path, events: int) -> int:
    """Write a CSV event log of about `events` rows (whole deals) to `path`; rows written."""
    written = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, COLUMNS, extrasaction="raise")
        writer.writeheader()
        for n in range(max(1, events // EVENTS_PER_DEAL)):
            for number, row in enumerate(_deal(n)):
                writer.writerow({"event_id": f"E{n:07d}-{number:02d}", **row})
                written += 1
    return written


def _child(csv_path: str, url: str) -> None:
    """Run one import (in its own process) and print what it did as JSON."""
    sys.path.insert(0, str(ROOT))
    from store.db import make_engine
    from store.migrate import upgrade
    from throughline.importers import import_events, load_event_log_mapping

    engine = make_engine(url)
    upgrade(engine)
    started = time.perf_counter()
    report = import_events(engine, Path(csv_path), load_event_log_mapping(MAPPING), progress=False)
    seconds = time.perf_counter() - started
    engine.dispose()
    done = {
        "seconds": seconds,
        "rows": report.rows_read,
        "written": report.written.total,
        "quarantined": report.quarantined,
    }
    print(json.dumps(done))


def _measure(csv_path: Path, url: str) -> dict[str, Any]:
    child = subprocess.Popen(
        [sys.executable, __file__, "--child", str(csv_path), url],
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    assert child.stdout is not None
    with child.stdout:
        output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"the import of {csv_path} failed (exit {child.returncode})")
    result: dict[str, Any] = json.loads(output)
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux: KiB
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime  # apart from other load on the host
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--keep", type=Path, help="directory for the CSV files and databases")
    parser.add_argument("--child", nargs=2, metavar=("CSV", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(*args.child)
        return 0
    where = args.keep or Path(tempfile.mkdtemp(prefix="throughline-bench-"))
    where.mkdir(parents=True, exist_ok=True)
    results = []
    for size in args.sizes:
        path = where / f"events-{size}.csv"
        rows = generate(path, size)
        db = where / f"store-{size}.db"
        db.unlink(missing_ok=True)
        url = f"sqlite:///{db}"
        first, again = _measure(path, url), _measure(path, url)
        results.append((size, rows, path.stat().st_size, first, again))
        print(f"{rows:>9,} events ({path.stat().st_size / 2**20:,.0f} MiB CSV)", flush=True)
        for label, r in (("first import", first), ("again", again)):
            print(
                f"  {label:<12} {r['seconds']:7.1f} s = {rows / r['seconds']:7,.0f} rows/s "
                f"({rows / r['cpu_seconds']:,.0f} rows per CPU second), peak RSS "
                f"{r['peak_rss_mb']:.0f} MB, {r['written']:,} rows written",
                flush=True,
            )
    if len(results) > 1:
        small, large = results[0][3], results[-1][3]
        print(
            f"peak RSS {results[-1][1]:,} / {results[0][1]:,} events: "
            f"{large['peak_rss_mb'] / small['peak_rss_mb']:.2f}×"
        )
    return 0 if all(r[4]["written"] == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
