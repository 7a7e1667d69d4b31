"""The `profile` phase (at the smallest scale only): cProfile's top functions of one batch's
`write_batch`, of the rebuild and of each page's draw."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.phases.ingest import saved_cursor
from bench.phases.page_draw import page_calls
from bench.stores import ROOT, open_store


def _top(profile: Any, n: int = 12) -> list[dict[str, Any]]:
    """The `n` functions with the most own time, as ``file:line(function)``."""
    import pstats

    stats = pstats.Stats(profile)
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)  # type: ignore[attr-defined]
    out = []
    for (path, line, name), (_cc, _nc, own, cumulative, _callers) in rows[:n]:
        where = str(Path(path).relative_to(ROOT)) if path.startswith(str(ROOT)) else Path(path).name
        out.append(
            {
                "function": f"{where}:{line}({name})",
                "own_seconds": own,
                "cumulative_seconds": cumulative,
            }
        )
    return out


def phase_profile(db: str, deals: int, opts: argparse.Namespace) -> dict[str, Any]:
    """cProfile of one collector batch re-delivered (upsert and refresh), of the rebuild and of
    each page's draw."""
    import cProfile

    from bench.generate import Scale, batches
    from metrics.facts import rebuild_case_facts
    from store.write import write_batch

    scale = Scale(deals)
    engine = open_store(db, scale.label, out=opts.out, pg_url=opts.postgres_url)
    batch, cursor = next(batches(scale, "base", opts.batch_rows))
    write = cProfile.Profile()
    # stored, then its cases refreshed
    write.runcall(write_batch, engine, batch, saved_cursor(engine, cursor))
    rebuild = cProfile.Profile()
    rebuild.runcall(rebuild_case_facts, engine)
    pages = {}
    for page, draw in page_calls(engine).items():
        profile = cProfile.Profile()
        profile.runcall(draw)
        pages[page] = _top(profile, 8)
    engine.dispose()
    return {"profile": {"write_batch": _top(write), "rebuild": _top(rebuild), "pages": pages}}
