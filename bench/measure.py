"""How the phases measure: a process's peak memory, and the write path timed in parts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def own_peak_mb() -> float:
    """This process's peak resident memory (VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_mb() -> float:
    """`own_peak_mb` plus the largest finished child process's peak (the columnar rebuild's
    DuckDB runs apart on SQLite): an upper bound of what the phase held at once so far."""
    import resource

    return own_peak_mb() + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


class WriteTimer:
    """Times `write_batch` and, inside it, the bulk upsert and the queueing of touched cases;
    then the deferred case-fact refresh."""

    def __init__(self) -> None:
        self.total = self.load = self.mark = self.refresh = 0.0
        self.rows = self.batches = 0

    @contextmanager
    def installed(self) -> Iterator[WriteTimer]:
        import store.write as store

        real_mark, real_loader = store.mark_affected, store.loader_for
        timer = self

        def mark(conn: Any, batch: Any) -> Any:
            started = time.perf_counter()
            try:
                return real_mark(conn, batch)
            finally:
                timer.mark += time.perf_counter() - started

        class Timed:
            def __init__(self, inner: Any) -> None:
                self.inner = inner

            def load(self, table: Any, rows: Any) -> int:
                started = time.perf_counter()
                try:
                    return int(self.inner.load(table, rows))
                finally:
                    timer.load += time.perf_counter() - started

        store.mark_affected = mark  # type: ignore[assignment]
        store.loader_for = lambda conn: Timed(real_loader(conn))  # type: ignore[assignment,return-value]
        try:
            yield self
        finally:
            store.mark_affected, store.loader_for = real_mark, real_loader

    def write(self, engine: Any, batch: Any, cursor: Any) -> None:
        from bench.generate import rows_in
        from store.write import write_batch

        started = time.perf_counter()
        write_batch(engine, batch, cursor)
        self.total += time.perf_counter() - started
        self.rows += rows_in(batch)
        self.batches += 1

    def refresh_facts(self, engine: Any) -> None:
        """The refresh a collector runs once its run's batches are stored."""
        from metrics.facts import refresh_pending

        started = time.perf_counter()
        refresh_pending(engine)
        self.refresh += time.perf_counter() - started

    def figures(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "batches": self.batches,
            "seconds": self.total,
            "rows_per_s": self.rows / self.total if self.total else None,
            "upsert_seconds": self.load,
            "mark_seconds": self.mark,
            "other_seconds": self.total - self.load - self.mark,
            "refresh_seconds": self.refresh,
            "with_refresh_rows_per_s": (
                self.rows / (self.total + self.refresh) if self.total + self.refresh else None
            ),
        }
