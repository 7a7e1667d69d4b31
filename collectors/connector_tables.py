"""The README's options tables, from the connectors' declared options.

`python -m collectors.connector_tables` prints one table per connector (option, type, default,
and an empty column for what it does); `tests/collectors/test_connector_options.py` checks the
README's tables against `option_rows`.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

from collectors.connector_options import dataclass_in, default_of, hints, options_model
from collectors.registry import OPTIONS


def option_rows(connector: str) -> list[tuple[str, str, str]]:
    """(option, type, default) of every option of `connector`, nested ones dotted."""
    model = options_model(connector, OPTIONS[connector])
    rows: list[tuple[str, str, str]] = []
    for name, info in model.model_fields.items():
        default = info.get_default(call_default_factory=True) if not info.is_required() else ...
        rows += _rows(name, info.annotation, default)
    return rows


def _rows(key: str, hint: Any, default: Any) -> list[tuple[str, str, str]]:
    kind = dataclass_in(hint)
    if kind is None:
        return [(key, describe(hint), show(default))]
    prefix = f"{key}[]" if typing.get_origin(hint) is tuple else key
    rows = []
    types_ = hints(kind)
    for f in dataclasses.fields(kind):
        rows += _rows(f"{prefix}.{f.name}", types_[f.name], default_of(f))
    return rows


def describe(hint: Any) -> str:
    """A type as the README says it: text, integer, true/false, list of text, …"""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return describe(next(a for a in args if a is not type(None)))
    if origin is Literal:
        return " or ".join(f"`{a}`" for a in args)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return "/".join(f"`{m.value}`" for m in hint)
    if origin in (frozenset, set, list, tuple):
        return f"list of {describe(args[0])}"
    if origin is not None and issubclass(origin, Mapping):
        return f"mapping of {describe(args[0])} to {describe(args[1])}"
    simple = {str: "text", int: "integer", bool: "true/false", float: "number"}
    return simple.get(hint, getattr(hint, "__name__", str(hint)))


def show(value: Any) -> str:
    """A default as the README shows it (— for none, required for none allowed)."""
    if value is ...:
        return "required"
    if value is None or value == () or value == {} or value == frozenset():
        return "—"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, frozenset | set | list | tuple):
        return f"`[{', '.join(sorted(str(v) for v in value))}]`"
    if isinstance(value, enum.Enum):
        return f"`{value.value}`"
    return f"`{value}`".replace("|", "\\|")


def markdown_table(connector: str) -> str:
    """The options table of `connector` with an empty column for what each does."""
    lines = ["| option | type | default | what it does |", "|---|---|---|---|"]
    lines += [f"| `{k}` | {t} | {d} |  |" for k, t, d in option_rows(connector)]
    return "\n".join(lines)


if __name__ == "__main__":
    for name in OPTIONS:
        print(f"### {name}\n\n{markdown_table(name)}\n")
