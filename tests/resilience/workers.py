"""`throughline worker` processes for the resilience tests: their environment and run log."""

from __future__ import annotations

import os

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from collectors.registry import COLLECTORS
from store.tables import CollectorRun
from tests.collectors.conftest import TOKEN

DEMO = sorted(name for name in COLLECTORS if name.startswith("demo_"))


def worker_env(engine: Engine, base_url: str, interval: int | None = None) -> dict[str, str]:
    """The environment of a worker collecting the demo estate at `base_url` into `engine`'s
    store (its PostgreSQL schema included), every `interval` seconds when given."""
    env = dict(os.environ)
    env["THROUGHLINE_DATABASE_URL"] = engine.url.render_as_string(hide_password=False)
    env["THROUGHLINE_DEMO_TOKEN"] = TOKEN
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        env["PGOPTIONS"] = f"-c search_path={schema}"
    for name in DEMO:
        env[f"THROUGHLINE_COLLECTORS__{name.upper()}__BASE_URL"] = base_url
        if interval is not None:
            env[f"THROUGHLINE_COLLECTORS__{name.upper()}__INTERVAL_SECONDS"] = str(interval)
    return env


def last_run_id(engine: Engine) -> int:
    """The newest run-log id (0 before any run)."""
    with Session(engine) as s:
        return int(s.scalar(select(func.coalesce(func.max(CollectorRun.id), 0))) or 0)


def all_succeeded_since(engine: Engine, run_id: int) -> bool:
    """Every demo collector has a successful run newer than `run_id`."""
    with Session(engine) as s:
        done = s.scalars(
            select(CollectorRun.collector).where(
                CollectorRun.id > run_id, CollectorRun.status == "success"
            )
        ).all()
    return set(done) >= set(DEMO)
