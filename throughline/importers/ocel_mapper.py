"""OCEL objects and events as canonical rows, named as the mapping (`ocel_mapping`) says.

An object's attributes keep their latest value; those the mapping lists under `dimensions`
become dimension columns, those the KPIs read (`model_rules.READ_ATTRIBUTES`, e.g. a work
item's ``billable``) get the type they need or refuse the object. Its relationships become
links, refused when they go against the model. An event relates to every object of its
relationships whose type is not skipped, with the relation's qualifier (or the object's type,
`event_qualifiers: type`). A `MappingError` (mostly `RowError`) says why an item is refused.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, tzinfo
from typing import Any

from collectors.errors import MappingError
from store.canonical import (
    Activity,
    EventObject,
    EventRow,
    FxRateRow,
    LinkQualifier,
    LinkRow,
    ObjectRow,
    ObjectType,
    SyncAttemptRow,
)
from store.ocel_export import LINK_SOURCE
from throughline.importers.model_rules import attribute_type, subject_type
from throughline.importers.ocel_extra import fx_rates, sync_attempt
from throughline.importers.ocel_mapping import QUALIFIER_HINT, OcelMapping
from throughline.importers.ocel_read import Item
from throughline.importers.value_spec import typed
from throughline.importers.values import (
    RowError,
    check_event,
    check_link,
    check_object,
    decode_json,
    parse_amount,
    parse_time,
    text,
    vocabulary,
    zone,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Ref = tuple[str, ObjectType, str]  # (source system, type, source key)


class OcelMapper:
    """Maps OCEL objects and events to canonical rows (`MappingError` with a reason)."""

    def __init__(
        self, mapping: OcelMapping, naive_zone: tzinfo | None, calendars: Collection[str]
    ) -> None:
        self.m = mapping
        self.zone = zone(mapping.timezone) or naive_zone
        self.calendars = calendars
        self.hint = QUALIFIER_HINT if mapping.event_qualifiers == "keep" else ""
        self.skip_types = set(mapping.skip_object_types)
        self.types: dict[str, ObjectType | None] = {}  # plain ids: OCEL id → type (None: skip)

    def object_type(self, name: Any) -> ObjectType | None:
        """The Throughline type of an OCEL object type; None when the mapping skips it."""
        word = str(name or "")
        if word in self.skip_types:
            return None
        return vocabulary(word, self.m.object_types, ObjectType, "object type", "object_types")

    def remember(self, item: Item) -> None:
        """Note a plain object id's type (first pass over the objects)."""
        try:
            self.types[str(item.get("id"))] = self.object_type(item.get("type"))
        except MappingError:
            self.types[str(item.get("id"))] = None

    def ref(self, oid: Any) -> Ref | None:
        """(system, type, key) of an object id; None when its type is skipped."""
        key = str(oid or "")
        if self.m.object_ids == "plain":
            if key not in self.types:
                raise RowError(
                    f"relates to object {key!r:.60} that the log does not define",
                    "relates to an object that the log does not define",
                )
            type_ = self.types[key]
            return None if type_ is None else (self.m.source_system, type_, key)
        parts = key.split(":", 2)
        if len(parts) != 3 or not all(parts):
            raise RowError(
                f"object id {key!r:.60} is not <type>:<system>:<key>",
                "object id is not <type>:<system>:<key>",
            )
        type_ = self.object_type(parts[0])
        return None if type_ is None else (parts[1], type_, parts[2])

    def is_sync(self, item: Item) -> bool:
        """Whether an OCEL event is a sync attempt."""
        return self.m.sync_attempts is not None and item.get("type") == self.m.sync_attempts

    def is_fx(self, item: Item) -> bool:
        """Whether an OCEL object is an FX rate (a currency pair)."""
        return self.m.fx_rates is not None and item.get("type") == self.m.fx_rates

    def sync_attempt(self, item: Item) -> SyncAttemptRow:
        """An OCEL sync attempt event → its row."""
        refs: list[Ref] = []
        for rel in item.get("relationships") or []:
            ref = self.ref(rel.get("objectId"))
            if ref is not None and ref not in refs:
                refs.append(ref)
        return sync_attempt(item, refs, self.zone, self.m.source_system)

    def fx_rates(self, item: Item) -> list[FxRateRow]:
        """An OCEL FX rate object → its daily rates."""
        return fx_rates(item, self.zone, self.m.source_system)

    def _value(self, value: Any) -> Any:
        return decode_json(value) if self.m.json_attributes else value

    def object(self, item: Item) -> tuple[ObjectRow, list[LinkRow]] | None:
        """An OCEL object → its row and links (None when its type is skipped)."""
        type_ = self.object_type(item.get("type"))
        ref = self.ref(item.get("id"))
        if type_ is None or ref is None:
            return None
        if ref[1] != type_:
            raise RowError(
                f"id {item.get('id')!r:.60} names another type than {type_}",
                f"id names another type than {type_}",
            )
        system, _, key = ref
        latest: dict[str, tuple[datetime, Any]] = {}
        for a in item.get("attributes") or []:
            at = self._time(a.get("time"), f"time of attribute {a.get('name')}")
            name = str(a.get("name"))
            if name not in latest or at >= latest[name][0]:
                latest[name] = (at, a.get("value"))
        dims: dict[str, Any] = {}
        attributes: dict[str, Any] = {}
        for name, (_, value) in latest.items():
            dim = self.m.dimensions.get(name)
            if dim == "amount":
                dims[dim] = parse_amount(value, name)
            elif dim is not None:
                dims[dim] = text(value)
            elif value is not None:
                needed = attribute_type(type_, name)
                value = self._value(value) if needed is None else typed(value, needed, name)
                attributes[name] = value
        times = [at for at, _ in latest.values() if at != EPOCH]
        row = ObjectRow(
            type_,
            system,
            key,
            **dims,
            attributes=attributes,
            source_updated_at=max(times) if times else None,
        )
        return check_object(row, self.calendars), self._links(ref, item.get("relationships") or [])

    def _links(self, source: Ref, relationships: list[Any]) -> list[LinkRow]:
        links = []
        for rel in relationships:
            target = self.ref(rel.get("objectId"))
            if target is None:
                continue
            qualifier = self.link_qualifier(rel.get("qualifier"))
            system = text(rel.get(LINK_SOURCE)) or source[0]
            links.append(check_link(LinkRow(*source, *target, qualifier, system)))
        return links

    def link_qualifier(self, name: Any) -> LinkQualifier:
        word = str(name or "")
        found = self.m.link_qualifiers.get(word)
        if found is not None:
            return found
        try:
            return LinkQualifier(word)
        except ValueError:
            raise RowError(
                f"object-to-object qualifier {word!r:.40} is not a Throughline link: map it "
                "under `link_qualifiers`"
            ) from None

    def activity(self, name: Any) -> Activity | None:
        word = str(name or "")
        if word in self.m.skip_activities:
            return None
        return vocabulary(word, self.m.activities, Activity, "activity", "activities")

    def event(self, item: Item) -> EventRow | None:
        """An OCEL event → its row (None when its activity is skipped)."""
        activity = self.activity(item.get("type"))
        if activity is None:
            return None
        at = self._time(item.get("time"), "time")
        refs: list[EventObject] = []
        for rel in item.get("relationships") or []:
            ref = self.ref(rel.get("objectId"))
            if ref is None:
                continue
            qualifier = text(rel.get("qualifier")) if self.m.event_qualifiers == "keep" else None
            found = EventObject(*ref, qualifier or ref[1].value)
            if found not in refs:
                refs.append(found)
        attributes = {
            str(a.get("name")): self._value(a.get("value"))
            for a in item.get("attributes") or []
            if a.get("value") is not None
        }
        subject = subject_type(activity)
        system = next((r.source_system for r in refs if r.type == subject), None)
        system = system or (refs[0].source_system if refs else self.m.source_system)
        key = text(item.get("id"))
        if key is None:
            raise RowError("the event has no id")
        source = self.m.event_source
        if source is not None and source.system in attributes and source.key in attributes:
            system = str(attributes.pop(source.system))
            key = str(attributes.pop(source.key))
        return check_event(EventRow(activity, at, system, key, tuple(refs), attributes), self.hint)

    def _time(self, value: Any, name: str) -> datetime:
        return parse_time(value, name, self.zone)
