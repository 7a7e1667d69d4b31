"""The mapping of an OCEL 2.0 log (`throughline import ocel --mapping MAP.yaml`) and its checks.

Every key (``examples/ocel-mapping.yaml`` is a complete example; without ``--mapping``,
``throughline-ocel.yaml`` reads Throughline's own export)::

    object_ids: plain              # plain: the OCEL id is the key (the default);
                                   # throughline: ids read <type>:<source system>:<key>
    source_system: pmtool          # system of the objects (plain ids) and of unrelated events
    timezone: Europe/Berlin        # zone of times written without an offset. OCEL SQLite
                                   # stores times without one: they are read as UTC unless
                                   # this is set; in JSON they are refused unless it is set
    activities: {Win Opportunity: deal.won}     # event type → Throughline activity
    object_types: {Opportunity: deal}           # object type → Throughline object type
    skip_activities: [Send Mail]                # event types left out (counted)
    skip_object_types: [Employee]               # object types left out, with their relations
    dimensions: {client: customer, value: amount}   # object attribute → dimension column
    link_qualifiers: {creates: provisions}      # object-to-object qualifier → link
    event_qualifiers: keep         # keep: the relation's qualifier (at most 32 characters);
                                   # type: the object's type instead (for free-text ones)
    json_attributes: false         # decode attribute values written as JSON text
    event_source: {system: source_system, key: source_key}  # event attributes with the
                                   # event's own source system and key, when present
    sync_attempts: sync.attempt    # event type whose events are integration sync attempts
    fx_rates: fx_rate              # object type whose objects are daily FX rates

Names not mapped are accepted when they already are Throughline's (``deal.won``, ``deal``).
Loading refuses a name both mapped and skipped; before reading, the import refuses mapped or
skipped names the log does not declare, and Throughline's own mapping on a log whose ids are
not Throughline's (another tool's log needs its own mapping).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from store.canonical import Activity, LinkQualifier, ObjectType
from throughline.importers.mapping_file import Problem, Strict, load_mapping
from throughline.importers.ocel_formats import Declared
from throughline.importers.values import zone_problem

DEFAULT_MAPPING = Path(__file__).with_name("throughline-ocel.yaml")
Dimension = Literal["customer", "legal_entity", "practice", "region", "owner", "currency", "amount"]
QUALIFIER_HINT = " (set `event_qualifiers: type` in the mapping to relate by object type)"


class EventSource(Strict):
    """Event attributes that carry the event's own source system and key, when present."""

    system: str
    key: str


class OcelMapping(Strict):
    """How an OCEL log's names become Throughline's."""

    object_ids: Literal["throughline", "plain"] = "plain"
    source_system: str = Field(default="ocel", min_length=1, max_length=32)
    timezone: str | None = None
    activities: dict[str, Activity] = Field(default_factory=dict)
    object_types: dict[str, ObjectType] = Field(default_factory=dict)
    skip_activities: list[str] = Field(default_factory=list)
    skip_object_types: list[str] = Field(default_factory=list)
    dimensions: dict[str, Dimension] = Field(default_factory=dict)
    link_qualifiers: dict[str, LinkQualifier] = Field(default_factory=dict)
    event_qualifiers: Literal["keep", "type"] = "keep"
    json_attributes: bool = False
    event_source: EventSource | None = None
    sync_attempts: str | None = None  # event type whose events are sync attempts
    fx_rates: str | None = None  # object type whose objects are daily FX rates

    def problems(self) -> list[Problem]:
        """Everything wrong with the mapping on its own (no log needed)."""
        out = [Problem(("timezone",), p) for p in [zone_problem(self.timezone)] if p]
        for key, mapped in (
            ("skip_activities", self.activities),
            ("skip_object_types", self.object_types),
        ):
            for i, name in enumerate(getattr(self, key)):
                if name in mapped:
                    out.append(Problem((key, i), f"{name!r} is also mapped"))
        return out

    def log_problems(self, declared: Declared | None) -> list[Problem]:
        """Names the mapping gives that the log does not declare (None: it declares none)."""
        if declared is None:
            return []
        out = []
        sections = (
            ("activities", list(self.activities), declared.event_types, "event"),
            ("skip_activities", self.skip_activities, declared.event_types, "event"),
            ("object_types", list(self.object_types), declared.object_types, "object"),
            ("skip_object_types", self.skip_object_types, declared.object_types, "object"),
        )
        for key, names, types, kind in sections:
            for i, name in enumerate(names):
                if name not in types:
                    have = ", ".join(sorted(types)) or "none"
                    path = (key, name) if key in ("activities", "object_types") else (key, i)
                    out.append(
                        Problem(
                            path, f"the log declares no {kind} type {name!r} (it declares: {have})"
                        )
                    )
        return out

    @property
    def is_default(self) -> bool:
        """Whether this is the mapping for Throughline's own export."""
        return self.source.name == str(DEFAULT_MAPPING)


def load_ocel_mapping(path: Path | None = None) -> OcelMapping:
    """The mapping file at `path`, or the default one for Throughline's own export."""
    return load_mapping(path or DEFAULT_MAPPING, OcelMapping)
