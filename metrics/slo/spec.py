"""SLOs in YAML: a strict subset of OpenSLO v1, plus one documented Throughline extension.

A file holds SLO documents: several YAML documents (``---``), or one document that is a list of
them. Each one::

    apiVersion: openslo/v1            # required, exactly this
    kind: SLO                         # required, exactly this
    metadata:
      name: project-setup-latency     # required; lowercase RFC 1123 label, unique in the file
      displayName: Won deals get a project within 2 business days   # optional
    spec:
      description: …                  # optional
      service: quote-to-cash          # required
      indicator:                      # Throughline: a KPI and a threshold (see below)
        kpi: setup_latency    # a name from the KPI registry
        threshold: {op: lte, value: 2, unit: business_days}   # optional
        weight: count                 # count (default) | value
      timeWindow:                     # exactly one
        - duration: 28d               # rolling: Nd or Nw (1–90 days), isRolling: true or omitted
          isRolling: true
      # or a calendar month:
      #   - duration: 1M
      #     calendar: {startTime: "2024-01-01 00:00:00", timeZone: Europe/Berlin}
      #     isRolling: false
      budgetingMethod: Occurrences    # the only method supported
      objectives:                     # exactly one
        - displayName: 95 % within 2 business days   # optional
          target: 0.95                # 0 < target < 1
      x-throughline:                  # optional: everything Throughline adds to OpenSLO
        grouping: [legal_entity]      # evaluate per value of these dimensions, and overall
        aging:                        # an aging budget in days, next to the one in cases
          budget: {value: 10, unit: business_days}   # allowed days past the limit per window
          limit: {value: 2, unit: business_days}     # optional, default: indicator.threshold
          weighted: false             # true: days × item weight (e.g. money-days)
        alerting:
          windows: {fast: page, medium: page, slow: ticket}   # row → page | ticket | none
          min_occurrences: 5          # occurrences the long window needs before it may fire
          scope: both                 # overall | groups | both (default: groups if grouping)

Where this departs from OpenSLO: ``indicator`` names a Throughline KPI instead of holding
metric queries (the KPI layer computes each case's value; OpenSLO's ``thresholdMetric`` with
``op``/``value`` on the objective is the closest equivalent), and everything else Throughline
adds lives under ``spec.x-throughline``. OpenSLO's ``Timeslices`` budgeting, ``alertPolicies``,
``indicatorRef``, labels and annotations are not supported and are refused like any unknown
field.

`load_slos` returns the SLOs or raises one `SloConfigError` listing *every* problem, each naming
the file, the field path and (when known) the line: ``slos.yaml: slos[2].spec.objectives[0]
.target: must be between 0 and 1 (line 14)``.
"""

from __future__ import annotations

import difflib
import math
import re
import reprlib
import types
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails

from metrics.slo.windows import DEFAULT_BURN_WINDOWS, BurnWindow, Severity, reachable

DEFAULTS_PATH = Path(__file__).with_name("defaults.yaml")

#: KPI names the shipped defaults use; pass the KPI registry's names to `load_slos` instead.
DEFAULT_KPI_NAMES: frozenset[str] = frozenset(
    {"setup_latency", "invoice_cycle", "sync_error_rate", "unbilled_wip"}
)
#: Dimensions an SLO may group by (keys of `Occurrence.group` / `OpenItem.group`).
GroupDimension = Literal[
    "legal_entity", "practice", "customer", "region", "owner", "integration", "flow"
]
GROUP_DIMENSIONS: tuple[str, ...] = get_args(GroupDimension)

_SHORT = reprlib.Repr()  # a value quoted in a message: short even when an alias made it huge
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxstring = 2, 4, 60
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_ROLLING = re.compile(r"^(\d+)([dw])$")


class SloConfigError(ValueError):
    """The SLO file is unusable; ``problems`` lists each as ``file: path: message (line n)``."""

    def __init__(self, path: str, problems: Sequence[str]) -> None:
        self.path = path
        self.problems = tuple(problems)
        count = len(self.problems)
        head = f"{path}: {count} problem{'s' if count != 1 else ''} in the SLO definitions"
        super().__init__("\n".join([head, *(f"  {p}" for p in self.problems)]))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Metadata(_Strict):
    """OpenSLO ``metadata``: the SLO's name (its identity in alerts) and display name."""

    name: str = Field(max_length=63)
    display_name: str | None = Field(default=None, alias="displayName", max_length=200)

    @field_validator("name")
    @classmethod
    def _rfc1123(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                "must be a lowercase RFC 1123 label: letters a-z, digits and '-', "
                "starting and ending with a letter or digit"
            )
        return value


class Threshold(_Strict):
    """When a case is good: ``value_of_case <op> value`` (e.g. latency ``lte`` 2 business days)."""

    op: Literal["lt", "lte", "gt", "gte"]
    value: float
    unit: Literal["hours", "days", "business_days"]

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value) or value < 0:
            raise ValueError("must be a finite number ≥ 0")
        return value


class Indicator(_Strict):
    """Throughline's indicator: a KPI by name, and the threshold that makes a case good."""

    kpi: str
    threshold: Threshold | None = None
    weight: Literal["count", "value"] = "count"

    @field_validator("kpi")
    @classmethod
    def _known_kpi(cls, value: str, info: ValidationInfo) -> str:
        known = (info.context or {}).get("kpis")
        if known is not None and value not in known:
            close = difflib.get_close_matches(value, sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"unknown KPI {value!r}{hint} (known: {', '.join(sorted(known)) or 'none'})"
            )
        return value


class CalendarSpec(_Strict):
    """OpenSLO ``timeWindow[].calendar``: where calendar periods start, and in which zone."""

    start_time: str = Field(alias="startTime")
    time_zone: str = Field(alias="timeZone")

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc
        return value

    @field_validator("start_time")
    @classmethod
    def _start(cls, value: str) -> str:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValueError('must look like "2024-01-01 00:00:00"') from exc
        if (parsed.day, parsed.hour, parsed.minute, parsed.second) != (1, 0, 0, 0):
            raise ValueError("calendar months start on the 1st at 00:00:00")
        return value


class TimeWindow(_Strict):
    """OpenSLO ``timeWindow[]``: rolling ``Nd``/``Nw`` or a calendar month (``1M``)."""

    duration: str
    is_rolling: bool | None = Field(default=None, alias="isRolling")
    calendar: CalendarSpec | None = None

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: str) -> str:
        if value == "1M":
            return value
        match = _ROLLING.match(value)
        if not match:
            raise ValueError(
                f"{value!r} is not a supported window: use Nd or Nw (rolling, e.g. 7d, 28d) "
                "or 1M with a calendar (calendar month)"
            )
        days = int(match.group(1)) * (7 if match.group(2) == "w" else 1)
        if not 1 <= days <= 90:
            raise ValueError(f"{value!r}: a rolling window must be 1 to 90 days long")
        return value


class Objective(_Strict):
    """OpenSLO ``objectives[]``: the share of good occurrences promised."""

    display_name: str | None = Field(default=None, alias="displayName", max_length=200)
    target: float

    @field_validator("target")
    @classmethod
    def _between(cls, value: float) -> float:
        if not (0.0 < value < 1.0):
            raise ValueError("must be between 0 and 1 (exclusive; 0.95 means 95 %)")
        return value


class DaysAmount(_Strict):
    """An amount of days: calendar ``days`` or ``business_days``."""

    value: float = Field(gt=0)
    unit: Literal["days", "business_days"]


class Limit(_Strict):
    """How long an item may stay open before it burns the aging budget."""

    value: float = Field(gt=0)
    unit: Literal["hours", "days", "business_days"]


class Aging(_Strict):
    """An aging budget: ``budget`` days past the limit allowed per SLO window."""

    budget: DaysAmount
    limit: Limit | None = None
    weighted: bool = False


class Alerting(_Strict):
    """Which burn-rate rows page or ticket, and the low-volume guard."""

    windows: dict[str, Literal["page", "ticket", "none"]] = Field(default_factory=dict)
    min_occurrences: int = Field(default=1, ge=0)
    scope: Literal["overall", "groups", "both"] | None = None

    @field_validator("windows")
    @classmethod
    def _known_rows(
        cls, value: dict[str, str], info: ValidationInfo
    ) -> dict[str, Literal["page", "ticket", "none"]]:
        table: Sequence[BurnWindow] = (info.context or {}).get("windows", DEFAULT_BURN_WINDOWS)
        names = [w.name for w in table]
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(
                f"unknown burn-rate window {', '.join(map(repr, unknown))} "
                f"(the table has: {', '.join(names)})"
            )
        return value  # type: ignore[return-value]


class ThroughlineExtension(_Strict):
    """``spec.x-throughline``: grouping, the aging budget and alerting."""

    grouping: list[GroupDimension] = Field(default_factory=list)
    aging: Aging | None = None
    alerting: Alerting = Field(default_factory=Alerting)

    @field_validator("grouping")
    @classmethod
    def _unique(cls, value: list[GroupDimension]) -> list[GroupDimension]:
        if len(set(value)) != len(value):
            raise ValueError("lists a dimension twice")
        return value


class SloSpec(_Strict):
    """OpenSLO ``spec`` (the supported subset)."""

    description: str = Field(default="", max_length=2000)
    service: str = Field(min_length=1, max_length=200)
    indicator: Indicator
    time_window: list[TimeWindow] = Field(alias="timeWindow", min_length=1, max_length=1)
    budgeting_method: Literal["Occurrences"] = Field(alias="budgetingMethod")
    objectives: list[Objective] = Field(min_length=1, max_length=1)
    throughline: ThroughlineExtension = Field(
        default_factory=ThroughlineExtension, alias="x-throughline"
    )


@dataclass(frozen=True, slots=True)
class SloWindow:
    """The SLO's compliance window, resolved: ``rolling`` ``span``, or ``calendar_month`` in
    ``tz``."""

    kind: Literal["rolling", "calendar_month"]
    span: timedelta | None
    tz: tzinfo

    def bounds(self, as_of: datetime) -> tuple[datetime, datetime]:
        """``[start, full_end)`` of the window containing ``as_of``.

        Rolling: ``[as_of − span, as_of)``. Calendar month: the whole month (``full_end`` may lie
        after ``as_of``; evaluation stops at ``as_of``).
        """
        if self.kind == "rolling":
            assert self.span is not None
            return as_of - self.span, as_of
        local = as_of.astimezone(self.tz)
        start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
        end = start.replace(year=year, month=month)
        return start.astimezone(UTC), end.astimezone(UTC)


class Slo(_Strict):
    """One SLO document."""

    api_version: Literal["openslo/v1"] = Field(alias="apiVersion")
    kind: Literal["SLO"]
    metadata: Metadata
    spec: SloSpec

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def display_name(self) -> str:
        return self.metadata.display_name or self.metadata.name

    @property
    def target(self) -> float:
        return self.spec.objectives[0].target

    @property
    def kpi(self) -> str:
        return self.spec.indicator.kpi

    @property
    def grouping(self) -> tuple[str, ...]:
        return tuple(self.spec.throughline.grouping)

    @property
    def aging(self) -> Aging | None:
        return self.spec.throughline.aging

    @property
    def alerting(self) -> Alerting:
        return self.spec.throughline.alerting

    @property
    def aging_limit(self) -> Limit | None:
        """The per-item limit of the aging budget (its own, else the indicator threshold)."""
        aging = self.aging
        if aging is None:
            return None
        if aging.limit is not None:
            return aging.limit
        threshold = self.spec.indicator.threshold
        return None if threshold is None else Limit(value=threshold.value, unit=threshold.unit)

    @property
    def window(self) -> SloWindow:
        tw = self.spec.time_window[0]
        if tw.calendar is not None:
            return SloWindow("calendar_month", None, ZoneInfo(tw.calendar.time_zone))
        match = _ROLLING.match(tw.duration)
        assert match is not None
        days = int(match.group(1)) * (7 if match.group(2) == "w" else 1)
        return SloWindow("rolling", timedelta(days=days), UTC)

    @property
    def alert_scope(self) -> Literal["overall", "groups", "both"]:
        scope = self.alerting.scope
        if scope is not None:
            return scope
        return "groups" if self.grouping else "overall"

    def severity(self, window: BurnWindow) -> Severity | None:
        """The severity this SLO gives a row of the table, or None when the row is off.

        Rows the YAML does not mention keep the table's severity, unless their factor cannot
        be reached with this target (then they are off).
        """
        chosen = self.alerting.windows.get(window.name)
        if chosen is None:
            return window.severity if reachable(window, self.target) else None
        return None if chosen == "none" else chosen


# --- loading ---------------------------------------------------------------------------------


def load_slos(
    path: str | Path,
    *,
    kpis: Collection[str] | None,
    windows: Sequence[BurnWindow] = DEFAULT_BURN_WINDOWS,
) -> list[Slo]:
    """The SLOs in the YAML file at ``path``; `SloConfigError` listing every problem otherwise.

    ``kpis`` are the KPI names an indicator may use (the KPI registry's); None skips that check.
    ``windows`` is the burn-rate table the ``alerting.windows`` keys must name.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SloConfigError(str(path), [f"{path}: cannot read: {exc.strerror or exc}"]) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problem = f"{path}: not UTF-8 text (byte {data[exc.start]:#04x}) (line {line})"
        raise SloConfigError(str(path), [problem]) from exc
    slos = parse_slos(text, source=str(path), kpis=kpis, windows=windows)
    if not slos:
        raise SloConfigError(str(path), [f"{path}: defines no SLOs (an empty file?)"])
    return slos


def load_default_slos(
    *,
    kpis: Collection[str] | None = DEFAULT_KPI_NAMES,
    windows: Sequence[BurnWindow] = DEFAULT_BURN_WINDOWS,
) -> list[Slo]:
    """The SLOs shipped in ``metrics/slo/defaults.yaml``."""
    return load_slos(DEFAULTS_PATH, kpis=kpis, windows=windows)


def parse_slos(
    text: str,
    *,
    source: str = "<string>",
    kpis: Collection[str] | None,
    windows: Sequence[BurnWindow] = DEFAULT_BURN_WINDOWS,
) -> list[Slo]:
    """Like `load_slos`, from YAML text; ``source`` names it in messages."""
    label = source  # every problem starts with the file it is in
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise SloConfigError(source, [f"{label}: not valid YAML: {_yaml_problem(exc)}"]) from exc
    except RecursionError as exc:
        raise SloConfigError(source, [f"{label}: not valid YAML: nested too deeply"]) from exc

    problems: list[str] = []
    documents: list[tuple[Any, yaml.Node]] = []
    for node in nodes:
        if node is None:
            continue
        value = yaml.SafeLoader("").construct_document(node)
        if isinstance(value, list) and isinstance(node, yaml.SequenceNode):
            documents.extend(zip(value, node.value, strict=True))
        else:
            documents.append((value, node))

    context = {"kpis": None if kpis is None else frozenset(kpis), "windows": tuple(windows)}
    slos: list[Slo] = []
    first_seen: dict[str, int] = {}
    for index, (data, node) in enumerate(documents):
        prefix = f"slos[{index}]"
        lines = _lines(node)
        for dup_path, dup_line in _duplicate_keys(node):
            problems.append(
                f"{label}: {_join(prefix, dup_path)}: key given twice (line {dup_line})"
            )
        if not isinstance(data, dict):
            problems.append(
                f"{label}: {prefix}: an SLO must be a mapping with apiVersion, kind, metadata "
                f"and spec (got {type(data).__name__}) (line {node.start_mark.line + 1})"
            )
            continue
        try:
            slo = Slo.model_validate(data, context=context)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                loc = tuple(error["loc"])
                problems.append(
                    f"{label}: {_join(prefix, loc)}: {_message(error)}{_where(lines, loc)}"
                )
            continue
        for loc, message in _semantic_problems(slo, windows):
            problems.append(f"{label}: {_join(prefix, loc)}: {message}{_where(lines, loc)}")
        if slo.name in first_seen:
            loc = ("metadata", "name")
            problems.append(
                f"{label}: {_join(prefix, loc)}: duplicate name {slo.name!r} "
                f"(also slos[{first_seen[slo.name]}]){_where(lines, loc)}"
            )
        else:
            first_seen[slo.name] = index
        slos.append(slo)
    if problems:
        raise SloConfigError(source, problems)
    return slos


def _semantic_problems(
    slo: Slo, windows: Sequence[BurnWindow]
) -> list[tuple[tuple[str | int, ...], str]]:
    """Checks across fields, with the path of the field to fix."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    spec = slo.spec
    tw = spec.time_window[0]
    tw_loc: tuple[str | int, ...] = ("spec", "timeWindow", 0)
    if tw.calendar is not None:
        if tw.duration != "1M":
            problems.append(
                ((*tw_loc, "duration"), "a calendar window must be 1M (calendar month)")
            )
        if tw.is_rolling:
            problems.append(
                ((*tw_loc, "isRolling"), "a calendar window is not rolling (set false or omit it)")
            )
    else:
        if tw.duration == "1M":
            problems.append(((*tw_loc, "duration"), "1M needs a calendar (startTime, timeZone)"))
        if tw.is_rolling is False:
            problems.append(((*tw_loc, "isRolling"), "a window without a calendar must be rolling"))
    ext = spec.throughline
    ext_loc: tuple[str | int, ...] = ("spec", "x-throughline")
    if ext.aging is not None and ext.aging.limit is None:
        threshold = spec.indicator.threshold
        if threshold is None:
            problems.append(
                (
                    (*ext_loc, "aging", "limit"),
                    "an aging budget needs a limit (or an indicator threshold to use as one)",
                )
            )
        elif threshold.op not in ("lt", "lte"):
            problems.append(
                (
                    (*ext_loc, "aging", "limit"),
                    f"the indicator threshold ({threshold.op}) is not an upper limit; "
                    "give the aging budget its own limit",
                )
            )
    for window in windows:
        chosen = ext.alerting.windows.get(window.name)
        if chosen in ("page", "ticket") and not reachable(window, slo.target):
            problems.append(
                (
                    (*ext_loc, "alerting", "windows", window.name),
                    f"burn rate {window.factor:g}× can never be exceeded with target "
                    f"{slo.target:g} (at most {1 / (1 - slo.target):.3g}×); set it to none",
                )
            )
    if ext.alerting.scope in ("groups", "both") and not ext.grouping:
        problems.append(
            ((*ext_loc, "alerting", "scope"), "alerting per group needs x-throughline.grouping")
        )
    return problems


# --- error formatting ------------------------------------------------------------------------


def _join(prefix: str, loc: Iterable[str | int]) -> str:
    text = prefix
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        allowed = _allowed_fields(tuple(error["loc"][:-1]))
        field = str(error["loc"][-1])
        close = difflib.get_close_matches(field, allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        listed = f" (allowed here: {', '.join(allowed)})" if allowed else ""
        return f"unknown field{hint}{listed}"
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '')} (got {_SHORT.repr(error.get('input'))})"
    message = error["msg"]
    return message[:1].lower() + message[1:]


def _unwrap(annotation: Any) -> type[BaseModel] | None:
    """The model class inside ``X | None``, ``list[X]``, ``dict[str, X]`` or ``X``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin in (list, dict, Union, types.UnionType):
        for arg in get_args(annotation):
            found = _unwrap(arg)
            if found is not None:
                return found
        return None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _allowed_fields(loc: tuple[str | int, ...]) -> list[str]:
    """The YAML field names allowed at ``loc`` (for "did you mean" hints)."""
    model: type[BaseModel] | None = Slo
    for part in loc:
        if model is None:
            return []
        if isinstance(part, int):
            continue
        match = next(
            (f for name, f in model.model_fields.items() if (f.alias or name) == part), None
        )
        if match is None:
            return []
        model = _unwrap(match.annotation)
    if model is None:
        return []
    return [f.alias or name for name, f in model.model_fields.items()]


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return str(problem)


def _lines(node: yaml.Node) -> dict[tuple[str | int, ...], int]:
    """1-based line of every key path in a composed document."""
    lines: dict[tuple[str | int, ...], int] = {(): node.start_mark.line + 1}
    seen: set[int] = set()  # an alias repeats a node: walk it once (a "billion laughs" file)

    def walk(current: yaml.Node, path: tuple[str | int, ...]) -> None:
        if id(current) in seen:
            return
        seen.add(id(current))
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
                child = (*path, key)
                lines[child] = key_node.start_mark.line + 1
                walk(value_node, child)
        elif isinstance(current, yaml.SequenceNode):
            for i, item in enumerate(current.value):
                child = (*path, i)
                lines[child] = item.start_mark.line + 1
                walk(item, child)

    walk(node, ())
    return lines


def _where(lines: Mapping[tuple[str | int, ...], int], loc: tuple[Any, ...]) -> str:
    """`` (line n)`` of the field at ``loc``, or of its nearest parent present in the file."""
    for cut in range(len(loc), -1, -1):
        line = lines.get(tuple(loc[:cut]))
        if line is not None:
            return f" (line {line})"
    return ""


def _duplicate_keys(node: yaml.Node) -> list[tuple[tuple[str | int, ...], int]]:
    """Keys given twice in one mapping (YAML loaders silently keep the last)."""
    found: list[tuple[tuple[str | int, ...], int]] = []
    visited: set[int] = set()  # an alias repeats a node: walk it once

    def walk(current: yaml.Node, path: tuple[str | int, ...]) -> None:
        if id(current) in visited:
            return
        visited.add(id(current))
        if isinstance(current, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in current.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
                if key in seen:
                    found.append(((*path, key), key_node.start_mark.line + 1))
                seen.add(key)
                walk(value_node, (*path, key))
        elif isinstance(current, yaml.SequenceNode):
            for i, item in enumerate(current.value):
                walk(item, (*path, i))

    walk(node, ())
    return found
