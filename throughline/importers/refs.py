"""Events and links only ever name stored objects.

An event or link naming an object that is not stored (the log never describes it, its own row
was quarantined, or the mapping names a column as an object on rows where it is none) would
point at nothing and drop out of every case without a word. So each batch's references are
looked up among the objects of the batch and of the store; a row whose event or links name a
missing object has them quarantined with that object named (its own objects are stored).

A flat log may name an object before the row that describes it: its rows wait (`hold`) until
the end of the file and are looked up again then. An OCEL log stores every object before any
event, so there an event is settled at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from store.canonical import EventRow, FxRateRow, LinkRow, ObjectRow, SyncAttemptRow
from store.reads import among
from store.tables import Object
from throughline.importers.model_rules import a
from throughline.importers.values import RowError


@dataclass(slots=True)
class Unit:
    """What one input row (or OCEL item) adds to the store, and where it came from."""

    where: str
    raw: Any  # the input row or item, quarantined with the reason if it is refused
    objects: list[ObjectRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    links: list[LinkRow] = field(default_factory=list)
    sync_attempts: list[SyncAttemptRow] = field(default_factory=list)
    fx_rates: list[FxRateRow] = field(default_factory=list)

    def references(self) -> Iterator[tuple[int, str, str]]:
        """(object id, type, key) of every object its events and links name."""
        for event in self.events:
            for ref in event.objects:
                yield ref.object_id, ref.type, ref.source_key
        for link in self.links:
            yield link.from_id, link.from_type, link.from_key
            yield link.to_id, link.to_type, link.to_key

    def objects_only(self) -> Unit:
        """The unit's own objects, without what names others."""
        return Unit(self.where, self.raw, objects=self.objects)

    def naming_only(self) -> Unit:
        """The unit's events and links, without its own objects."""
        return Unit(self.where, self.raw, events=self.events, links=self.links)


def stored_objects(engine: Engine, ids: set[int]) -> set[int]:
    """Which of `ids` are stored objects."""
    if not ids:
        return set()
    found: set[int] = set()
    with engine.connect() as conn:
        for condition in among(conn, Object.id, ids):
            found.update(conn.execute(select(Object.id).where(condition)).scalars())
    return found


class References:
    """Settles each batch's units: ready to store, held for later, or refused with the reason."""

    def __init__(self, engine: Engine, *, hold: bool, hint: Callable[[str], str]) -> None:
        self.engine = engine
        self.hold = hold
        self.hint = hint  # object type → how the mapping avoids naming a missing one
        self.held: list[Unit] = []

    def split(
        self, units: list[Unit], *, final: bool
    ) -> tuple[list[Unit], list[tuple[Unit, RowError]]]:
        """Units to store now (a held or refused unit's own objects among them) and the units
        refused with their reason; units that may resolve later are held (`hold`, not `final`)."""
        candidates = units + self.held if final else units
        if final:
            self.held = []
        batch = {o.id for u in units for o in u.objects}
        named = [list(u.references()) for u in candidates]
        wanted = {i for refs in named for i, _, _ in refs} - batch
        known = batch | stored_objects(self.engine, wanted)
        ready: list[Unit] = []
        refused: list[tuple[Unit, RowError]] = []
        for unit, refs in zip(candidates, named, strict=True):
            missing = next(((t, k) for i, t, k in refs if i not in known), None)
            if missing is None:
                ready.append(unit)
                continue
            if unit.objects:
                ready.append(unit.objects_only())
            if self.hold and not final:
                self.held.append(unit.naming_only())
            else:
                refused.append((unit, self._refusal(unit, *missing)))
        return ready, refused

    def _refusal(self, unit: Unit, type_: str, key: str) -> RowError:
        parts = " and ".join(
            word for word, rows in (("event", unit.events), ("links", unit.links)) if rows
        )
        verb = "is" if parts == "event" else "are"
        hint = self.hint(type_)
        return RowError(
            f"names {type_} {key!r:.60} that neither this log nor the store holds, so its "
            f"{parts} {verb} not stored{hint}",
            f"names {a(type_)} that neither this log nor the store holds{hint}",
        )
