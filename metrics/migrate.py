"""Schema management through alembic only: `upgrade` and the revision a database is at."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    """An alembic Config for `engine` (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def head_revision(engine: Engine) -> str | None:
    """The newest revision the code knows."""
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database's schema to `revision` (creates every table on an empty one)."""
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


FACTS_REVISION = "0002"  # the revision that created the case-fact tables


def ensure_current(engine: Engine) -> bool:
    """Upgrade when the database is behind the code; True when something was applied.

    A database that had events before the case-fact tables existed gets them rebuilt once.
    """
    before = current_revision(engine)
    if before == head_revision(engine):
        return False
    upgrade(engine)
    if before is not None and before < FACTS_REVISION:
        from metrics.facts import rebuild_case_facts

        rebuild_case_facts(engine)
    return True
