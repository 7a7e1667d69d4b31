"""The columnar rebuild's DuckDB work in a process of its own, for a SQLite store.

`python -m metrics.facts.columnar_child '{"spill": …, "dialect": "sqlite", "target": …}'`
attaches the store read-only, loads the sources, computes the fact tables and their
differences to the stored facts into the DuckDB file in `spill` (`columnar.compute_in_place`),
and prints its figures as one JSON line: seconds reading and computing, peak memory (MiB). The
parent, whose connection holds the store's write lock, then writes the differences back. Apart
because DuckDB's own copy of SQLite, opening the file in the parent's process, would release
the parent's POSIX locks on it (`duck_store`).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from metrics.facts import columnar, columnar_sql
from metrics.facts.columnar import compute_in_place, connect
from metrics.facts.duck_store import Location


def main(argv: list[str]) -> int:
    args = json.loads(argv[0])
    for name, value in args["settings"].items():  # the parent's, as it may have set them
        setattr(columnar, name, value)
    columnar_sql.TRACE_PART_ROWS = args["trace_part_rows"]
    started = time.perf_counter()
    con = connect(Path(args["spill"]))
    try:
        read = compute_in_place(con, Location(args["dialect"], args["target"]))
    finally:
        con.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {"read": read, "compute": time.perf_counter() - started - read, "child_peak_mb": peak}
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
