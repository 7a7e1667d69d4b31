"""Schema management through alembic only: `upgrade` and the revision a database is at.

Upgrades are serialised across processes, so any number of them may start on an empty or old
database at once: on PostgreSQL by a transaction-level advisory lock (keyed by the schema, so
stores in other schemas of one database do not wait for each other), on SQLite by a file lock
next to the database file. One process upgrades; the others wait, find the schema current and
go on.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

MIGRATIONS = Path(__file__).with_name("migrations")
#: The advisory-lock key of schema upgrades (any fixed 31-bit number; paired with the schema).
UPGRADE_LOCK_KEY = 0x7448_5547  # "tHUG"


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
        return _revision(conn)


def _revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Bring the database's schema to `revision` (creates every table on an empty one); the
    revision it was at before (None: empty), read under the upgrade lock."""
    with _upgrading(engine) as conn:
        before = _revision(conn)
        _upgrade(engine, conn, revision)
    return before


def _upgrade(engine: Engine, conn: Connection, revision: str) -> None:
    cfg = alembic_config(engine)
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


@contextmanager
def _upgrading(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the database's upgrade lock (waiting for it as long as another
    process upgrades)."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:k, hashtext(current_schema()))"),
                {"k": UPGRADE_LOCK_KEY},
            )
            yield conn
        return
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        with engine.begin() as conn:  # private to this process: nobody to wait for
            yield conn
        return
    lock_file = Path(database).expanduser()
    with lock_file.with_name(f"{lock_file.name}.upgrade.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            with engine.begin() as conn:
                yield conn
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


FACTS_REVISION = "0002"  # the revision that created the case-fact tables


@dataclass(frozen=True, slots=True)
class Upgraded:
    """What `upgrade_to_head` did: whether it applied anything, and from which revision."""

    applied: bool
    before: str | None

    @property
    def facts_predate_store(self) -> bool:
        """The store held events before the case-fact tables existed: they need one rebuild
        (`metrics.facts.ensure_current` does it)."""
        return self.applied and self.before is not None and self.before < FACTS_REVISION


def upgrade_to_head(engine: Engine) -> Upgraded:
    """Upgrade when the database is behind the code (under the upgrade lock, so of several
    processes starting at once one upgrades and the others wait)."""
    head = head_revision(engine)
    if current_revision(engine) == head:
        return Upgraded(applied=False, before=head)
    with _upgrading(engine) as conn:
        before = _revision(conn)  # again, under the lock: another process may have done it
        if before == head:
            return Upgraded(applied=False, before=head)
        _upgrade(engine, conn, "head")
    return Upgraded(applied=True, before=before)
