"""The SLO document as a model: OpenSLO v1's supported subset plus ``spec.x-throughline``
(the file format is described in `metrics.slo.spec`)."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from metrics.slo.windows import DEFAULT_BURN_WINDOWS, BurnWindow, Severity, reachable

#: KPI names the shipped defaults use; pass the KPI registry's names to `load_slos` instead.
DEFAULT_KPI_NAMES: frozenset[str] = frozenset(
    {"setup_latency", "invoice_cycle", "sync_error_rate", "unbilled_wip"}
)
#: Dimensions an SLO may group by (keys of `Occurrence.group` / `OpenItem.group`).
GroupDimension = Literal[
    "legal_entity", "practice", "customer", "region", "owner", "integration", "flow"
]
GROUP_DIMENSIONS: tuple[str, ...] = get_args(GroupDimension)

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_ROLLING = re.compile(r"^(\d+)([dw])$")


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
