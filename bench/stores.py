"""Where the bench's stores live: a SQLite file per scale in `bench/out/`, or a PostgreSQL schema
``bench_<scale>`` of `--postgres-url`; the constants every part of the bench shares."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
POSTGRES_URL = os.environ.get(
    "THROUGHLINE_BENCH_POSTGRES_URL",
    os.environ.get(
        "THROUGHLINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    ),
)
DATABASES = ("sqlite", "postgresql")


def store_url(db: str, label: str, out: Path = OUT, pg_url: str = POSTGRES_URL) -> str:
    """Where the store of one scale lives."""
    return f"sqlite:///{out / f'{label}.db'}" if db == "sqlite" else pg_url


def open_store(
    db: str, label: str, *, fresh: bool = False, out: Path = OUT, pg_url: str = POSTGRES_URL
) -> Any:
    """An engine on the store of one scale (emptied and migrated when `fresh`)."""
    from sqlalchemy import text

    from store.db import make_engine
    from store.migrate import upgrade

    if db == "sqlite":
        path = out / f"{label}.db"
        if fresh:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        engine = make_engine(store_url(db, label, out))
    else:
        schema = f"bench_{label}"
        if fresh:
            admin = make_engine(pg_url)
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
                conn.execute(text(f"CREATE SCHEMA {schema}"))
            admin.dispose()
        engine = make_engine(pg_url, connect_args={"options": f"-c search_path={schema}"})
    if fresh:
        upgrade(engine)
    return engine
