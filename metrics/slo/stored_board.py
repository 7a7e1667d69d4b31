"""The SLO board and each SLO's weekly history, stored for the pages: evaluated by the worker
(or by the first page draw that finds none), then read by every draw.

Evaluating them reads every SLO's window (at 1 M deals, seconds of work); reading the stored
ones is a primary-key lookup. What is stored is a JSON document (`metrics.slo.service` writes
and reads its fields), keyed by

- `config`: a digest of the SLOs, the entities' countries, the reporting currency and the
  collectors (the inputs the evaluation takes besides the store), one row per configuration;
- `as_of`: the reporting clock it was evaluated at;
- `data_version`: the collector runs' version (`store.clock.data_version`), which moves
  when a run starts or ends (a run refreshes the case facts before it ends).

A refresh or rebuild of the case facts marks the stored documents out of date in its own
transaction (`metrics.facts`), so facts changed outside a collector run (a CLI rebuild) count.
The worker serves only a document that matches the key exactly, and evaluates again otherwise;
a page also takes one evaluated within `BOARD_MAX_AGE` (the staleness its cache already
allows), so that a visitor does not wait for an evaluation the worker is about to make.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from metrics.slo.adapter import Context
from metrics.slo.spec import Slo
from store.clock import data_version
from store.db import upsert_insert
from store.tables import StoredSloBoard

#: Bumped when the stored document changes shape, so that what older code stored is not read.
BOARD_FORMAT = 1

Document = dict[str, Any]
#: How old a stored document a page takes when the data moved since (the worker checks every
#: 30 s and evaluates again within its evaluation time).
BOARD_MAX_AGE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class BoardKey:
    """What a stored board must match to be served."""

    config: str
    as_of: datetime
    data_version: str


def config_digest(slos: Sequence[Slo], ctx: Context, collectors: Mapping[str, Any]) -> str:
    """A digest of everything the evaluation takes besides the store."""
    document = {
        "format": BOARD_FORMAT,
        "slos": [s.model_dump(mode="json", by_alias=True) for s in slos],
        "countries": sorted(ctx.countries.items()),
        "currency": ctx.reporting_currency,
        "collectors": sorted((name, list(v)) for name, v in collectors.items()),
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def board_key(
    engine: Engine,
    slos: Sequence[Slo],
    ctx: Context,
    collectors: Mapping[str, Any],
    as_of: datetime,
) -> BoardKey:
    """The key a board evaluated now, at `as_of`, is stored under."""
    config = config_digest(slos, ctx, collectors)
    return BoardKey(config, as_of.astimezone(UTC), data_version(engine))


def load_board(engine: Engine, key: BoardKey, max_age: timedelta | None = None) -> Document | None:
    """The stored document when it matches `key`, or, given `max_age`, when it was evaluated
    that recently for the same configuration; else None."""
    b = StoredSloBoard
    with engine.connect() as conn:
        stored = conn.execute(
            select(b.as_of, b.data_version, b.evaluated_at, b.content).where(b.config == key.config)
        ).first()
    if stored is None:
        return None
    current = stored.as_of == key.as_of and stored.data_version == key.data_version
    recent = max_age is not None and stored.evaluated_at >= datetime.now(UTC) - max_age
    if not (current or recent):
        return None
    document: Document = json.loads(stored.content)
    return document


def save_board(engine: Engine, key: BoardKey, document: Document, seconds: float) -> None:
    """Store `document` under `key`, replacing the configuration's previous one. It is JSON in
    a text column: Python's json keeps the non-finite floats a board holds (an overspent budget
    is -inf), which the database's JSON types refuse."""
    values = {
        "config": key.config,
        "as_of": key.as_of,
        "data_version": key.data_version,
        "evaluated_at": datetime.now(UTC),
        "seconds": seconds,
        "content": json.dumps(document, allow_nan=True),
    }
    with engine.begin() as conn:
        statement = upsert_insert(conn)(StoredSloBoard).values(values)
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=["config"],
                set_={k: statement.excluded[k] for k in values if k != "config"},
            )
        )
