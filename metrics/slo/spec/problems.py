"""What is wrong with an SLO file, in sentences: each problem names the file, the field path
and (when known) the line, e.g. ``slos.yaml: slos[2].spec.objectives[0].target: must be
between 0 and 1 (line 14)``."""

from __future__ import annotations

import difflib
import reprlib
import types
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel
from pydantic_core import ErrorDetails

from metrics.slo.spec.model import Slo
from metrics.slo.windows import BurnWindow, reachable

_SHORT = reprlib.Repr()  # a value quoted in a message: short even when an alias made it huge
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxstring = 2, 4, 60


class SloConfigError(ValueError):
    """The SLO file is unusable; ``problems`` lists each as ``file: path: message (line n)``."""

    def __init__(self, path: str, problems: Sequence[str]) -> None:
        self.path = path
        self.problems = tuple(problems)
        count = len(self.problems)
        head = f"{path}: {count} problem{'s' if count != 1 else ''} in the SLO definitions"
        super().__init__("\n".join([head, *(f"  {p}" for p in self.problems)]))


def cross_field_problems(
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


def join(prefix: str, loc: Iterable[str | int]) -> str:
    """``slos[0]`` and ``("spec", "objectives", 0)`` → ``slos[0].spec.objectives[0]``."""
    text = prefix
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def error_message(error: ErrorDetails) -> str:
    """A validation error in words (with a "did you mean" for a misspelt field)."""
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


def yaml_problem(exc: yaml.YAMLError) -> str:
    """What the YAML parser refused, with its line and column."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return str(problem)


def lines_of(node: yaml.Node) -> dict[tuple[str | int, ...], int]:
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


def where(lines: Mapping[tuple[str | int, ...], int], loc: tuple[Any, ...]) -> str:
    """`` (line n)`` of the field at ``loc``, or of its nearest parent present in the file."""
    for cut in range(len(loc), -1, -1):
        line = lines.get(tuple(loc[:cut]))
        if line is not None:
            return f" (line {line})"
    return ""


def duplicate_keys(node: yaml.Node) -> list[tuple[tuple[str | int, ...], int]]:
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
