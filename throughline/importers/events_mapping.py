"""The mapping file of a flat event log (`throughline import events`) and its checks.

Every key (``examples/event-log-mapping.yaml`` is a complete example)::

    source_system: warehouse        # system of the events and (by default) the objects
    format: csv                     # optional: csv | parquet (default: by the file's suffix)
    delimiter: ","                  # optional, CSV only
    timezone: Europe/Berlin         # zone of timestamps written without an offset; without
                                    # it such rows are refused (a sample is checked first)
    activity: activity              # column with the activity …
    timestamp: occurred_at          # … and with when it happened
    event_id: event_id              # optional value: rows with one id are one event
    activities: {Opportunity won: deal.won, Invoice posted: invoice.posted}
    skip_activities: [Mail sent]    # activities of the log Throughline leaves out (counted)
    event_attributes: {by: user}    # event attribute → value
    objects:                        # object type → the values that name and describe it
      deal:
        key: deal_id                # a value: see `value_spec` (columns, constants, parts)
        system: crm                 # optional (default: source_system)
        qualifier: deal             # optional: the event-to-object qualifier (default: type)
        on: [deal.won, Project Created]   # optional: only these activities name a deal
        dimensions: {customer: customer, legal_entity: {value: US}, amount: amount}
        attributes: {no_project_required: {column: self_serve, type: boolean}}
    links: [{from: deal, to: project, qualifier: provisions}]   # when a row names both

Loading refuses, naming each key and its line: a link against the model's direction, an
attribute the KPIs read mapped with another type (``billable`` must be a boolean), a name under
`on` or `skip_activities` that is no activity, an activity whose object is not mapped (or that
its object's `on` leaves out). Before reading rows the import refuses a column the file lacks,
a Parquet column of booleans or numbers read as text, times without an offset and no
`timezone`, and a constant legal entity without a configured calendar.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Literal

from pydantic import Field

from store.canonical import Activity, LinkQualifier, ObjectType
from throughline.importers.mapping_file import KeyPath, Problem, Strict
from throughline.importers.model_rules import (
    a,
    attribute_type,
    calendar_problem,
    link_problem,
    subject_type,
)
from throughline.importers.value_spec import ValueSpec
from throughline.importers.values import RowError, parse_time, zone_problem

Dimension = Literal["customer", "legal_entity", "practice", "region", "owner", "currency", "amount"]
_ARROW_KINDS = {
    "bool": "boolean",
    "int": "integer",
    "uint": "integer",
    "float": "number",
    "double": "number",
    "decimal": "number",
}
SAMPLE_ROWS = 50


class ObjectSpec(Strict):
    """How a row names one object type, and which values describe it."""

    key: ValueSpec
    system: str | None = Field(default=None, max_length=32)
    qualifier: str | None = Field(default=None, max_length=32)
    on: list[str] | None = None
    dimensions: dict[Dimension, ValueSpec] = Field(default_factory=dict)
    attributes: dict[str, ValueSpec] = Field(default_factory=dict)


class LinkSpec(Strict):
    """An object-to-object link stored when a row names both objects."""

    from_: ObjectType = Field(alias="from")
    to: ObjectType
    qualifier: LinkQualifier


class EventLogMapping(Strict):
    """The mapping file of a flat event log."""

    source_system: str = Field(max_length=32, min_length=1)
    format: Literal["csv", "parquet"] | None = None
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    timezone: str | None = None
    activity: str
    timestamp: str
    event_id: ValueSpec | None = None
    event_attributes: dict[str, ValueSpec] = Field(default_factory=dict)
    activities: dict[str, Activity] = Field(default_factory=dict)
    skip_activities: list[str] = Field(default_factory=list)
    objects: dict[ObjectType, ObjectSpec] = Field(min_length=1)
    links: list[LinkSpec] = Field(default_factory=list)

    def activity_named(self, name: str) -> Activity | None:
        """A log's activity name (or Throughline's own) as Throughline's activity."""
        found = self.activities.get(name)
        if found is not None:
            return found
        return Activity(name) if name in Activity._value2member_map_ else None

    def named_on(self, type_: ObjectType) -> frozenset[Activity] | None:
        """The activities whose rows name a `type_` (None: every row that has its key)."""
        on = self.objects[type_].on
        if on is None:
            return None
        return frozenset(a for name in on if (a := self.activity_named(name)) is not None)

    def columns(self) -> list[tuple[KeyPath, str]]:
        """Every column the mapping reads, with the key that names it."""
        out: list[tuple[KeyPath, str]] = [
            (("activity",), self.activity),
            (("timestamp",), self.timestamp),
        ]
        if self.event_id is not None:
            out += self.event_id.columns(("event_id",))
        for name, spec in self.event_attributes.items():
            out += spec.columns(("event_attributes", name))
        for type_, obj in self.objects.items():
            base: KeyPath = ("objects", str(type_))
            out += obj.key.columns((*base, "key"))
            for section, specs in (("dimensions", obj.dimensions), ("attributes", obj.attributes)):
                for name, spec in specs.items():
                    out += spec.columns((*base, section, str(name)))
        return out

    def problems(self) -> list[Problem]:
        """Everything wrong with the mapping on its own (no file needed)."""
        out = [Problem(("timezone",), p) for p in [zone_problem(self.timezone)] if p]
        out += self._link_problems() + self._attribute_problems() + self._activity_problems()
        return out

    def _link_problems(self) -> list[Problem]:
        out = []
        for i, link in enumerate(self.links):
            for end, type_ in (("from", link.from_), ("to", link.to)):
                if type_ not in self.objects:
                    out.append(
                        Problem(("links", i, end), f"{type_} is not one of the mapped objects")
                    )
            problem = link_problem(link.from_, link.to, link.qualifier)
            if problem is not None:
                out.append(Problem(("links", i), problem))
        return out

    def _attribute_problems(self) -> list[Problem]:
        out = []
        for type_, obj in self.objects.items():
            for name, spec in obj.attributes.items():
                wanted = attribute_type(type_, name)
                if wanted is None or spec.declared() == wanted:
                    continue
                how = (
                    f"write {{column: {spec.column}, type: {wanted}}}"
                    if spec.column
                    else f"give {a(wanted)}"
                )
                out.append(
                    Problem(
                        ("objects", str(type_), "attributes", name),
                        f"Throughline reads the {name} of {a(type_)} as {a(wanted)}, and "
                        f"{a(spec.declared())} would not count: {how}",
                    )
                )
        return out

    def _activity_problems(self) -> list[Problem]:
        out = []
        skipped = set(self.skip_activities)
        for i, name in enumerate(self.skip_activities):
            if name in self.activities:
                out.append(
                    Problem(("skip_activities", i), f"{name!r} is also mapped under `activities`")
                )
        for type_, obj in self.objects.items():
            for i, name in enumerate(obj.on or []):
                if self.activity_named(name) is None:
                    out.append(
                        Problem(
                            ("objects", str(type_), "on", i),
                            f"{name!r} is neither under `activities` nor a Throughline activity",
                        )
                    )
        for name, activity in self.activities.items():
            if name in skipped:
                continue
            subject = subject_type(activity)
            if subject not in self.objects:
                out.append(
                    Problem(
                        ("activities", name),
                        f"{activity} is about {a(subject)}, "
                        f"but `objects` maps none: map one, or skip {name!r} "
                        "(`skip_activities`)",
                    )
                )
                continue
            on = self.named_on(subject)
            if on is not None and activity not in on:
                out.append(
                    Problem(
                        ("objects", str(subject), "on"),
                        f"leaves out {activity} ({name!r}), whose rows are about {a(subject)}",
                    )
                )
        return out


def file_problems(
    mapping: EventLogMapping,
    header: Sequence[str],
    kinds: Mapping[str, str],
    sample: Sequence[Mapping[str, Any]],
    calendars: Collection[str],
) -> list[Problem]:
    """What is wrong with `mapping` for a file with these columns (`kinds`: a Parquet column's
    Arrow type, when known) and first rows, and with these configured legal entities."""
    have = set(header)
    out = [
        Problem(path, f"the file has no column {column!r} (it has: {', '.join(header)})")
        for path, column in mapping.columns()
        if column not in have
    ]
    for type_, obj in mapping.objects.items():
        entity = obj.dimensions.get("legal_entity")
        constant = None if entity is None or entity.value is None else str(entity.value)
        problem = calendar_problem(constant, calendars)
        if problem is not None:
            out.append(Problem(("objects", str(type_), "dimensions", "legal_entity"), problem))
    if out:
        return out
    out += _typed_columns_read_as_text(mapping, kinds)
    out += _naive_times(mapping, kinds, sample)
    return out


def _typed_columns_read_as_text(
    mapping: EventLogMapping, kinds: Mapping[str, str]
) -> list[Problem]:
    specs: list[tuple[KeyPath, ValueSpec]] = [
        (("event_attributes", n), s) for n, s in mapping.event_attributes.items()
    ]
    for type_, obj in mapping.objects.items():
        specs += [
            (("objects", str(type_), "attributes", n), s)
            for n, s in obj.attributes.items()
            if attribute_type(type_, n) != "string"
        ]
    out = []
    for path, spec in specs:
        kind = kinds.get(spec.column or "", "")
        held = next((v for k, v in _ARROW_KINDS.items() if kind.startswith(k)), None)
        if spec.column and spec.type == "string" and held is not None:
            out.append(
                Problem(
                    path,
                    f"column {spec.column!r} holds {kind} values, read here as "
                    f"text: write {{column: {spec.column}, type: {held}}}",
                )
            )
    return out


def _naive_times(
    mapping: EventLogMapping, kinds: Mapping[str, str], sample: Sequence[Mapping[str, Any]]
) -> list[Problem]:
    """Times without an offset and no `timezone` to read them in: every row would be refused."""
    if mapping.timezone is not None:
        return []
    kind = kinds.get(mapping.timestamp, "")
    if kind.startswith("timestamp") and "tz=" not in kind:
        found = f"holds times without a zone ({kind})"
    else:
        naive, first = 0, None
        values = [v for row in sample if (v := row.get(mapping.timestamp)) not in (None, "")]
        for value in values:
            try:
                parse_time(value, mapping.timestamp, None)
            except RowError as exc:
                if "has no timezone" in exc.kind:
                    naive, first = naive + 1, first or value
        if not values or naive < len(values):
            return []
        rows = "row" if len(values) == 1 else f"{len(values)} rows"
        found = f"has no offset in its first {rows} (e.g. {str(first)!r:.40})"
    return [
        Problem(
            ("timestamp",),
            f"column {mapping.timestamp!r} {found}: set `timezone` to "
            "the zone they are in (e.g. timezone: Europe/Berlin)",
        )
    ]
