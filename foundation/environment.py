"""`THROUGHLINE_…` environment variables must name a setting: a misspelt one is refused.

Every variable is checked against the shapes the settings read (`THROUGHLINE_<FIELD>`, nested
with `__`, any key where a setting is a mapping, e.g. `THROUGHLINE_SECRETS__<NAME>`), plus the
few variables that are not settings (`NON_SETTINGS`) and those of the project's test and bench
tools (`TOOL_PREFIXES`). An unknown one is named with the closest known name, e.g.
`THROUGHLINE_DATABASE_ULR` → "did you mean THROUGHLINE_DATABASE_URL?".
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, get_args, get_origin

if TYPE_CHECKING:  # pydantic is imported by the settings, not by `throughline --help`
    from pydantic import BaseModel

PREFIX = "THROUGHLINE_"
ANY_KEY = "*"
#: Variables Throughline reads that are not settings.
NON_SETTINGS = frozenset(
    {
        "THROUGHLINE_SETTINGS_FILE",  # the optional TOML settings file
        "THROUGHLINE_CONNECTORS_FILE",  # the connectors' options (YAML)
        "THROUGHLINE_DEMO_PASS",  # set by `throughline demo` for its own processes
    }
)
#: Variables of the test suite, the benchmarks and the browser tests (never read by the product).
TOOL_PREFIXES = (
    "THROUGHLINE_TEST_",
    "THROUGHLINE_BENCH_",
    "THROUGHLINE_RESILIENCE_",
    "THROUGHLINE_LOAD_",
    "THROUGHLINE_CHROMIUM",
)
Shape = tuple[str, ...]


def shapes(model: type[BaseModel]) -> list[Shape]:
    """Every variable shape the model reads, as upper-case parts after the prefix."""
    return [
        (name.upper(), *rest)
        for name, field in model.model_fields.items()
        for rest in _below(field.annotation)
    ]


def _below(annotation: Any) -> list[Shape]:
    from pydantic import BaseModel

    found: list[Shape] = [()]  # the value as a whole (JSON for a model, list or mapping)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        found += shapes(annotation)
    elif get_origin(annotation) is dict:
        found += [(ANY_KEY, *rest) for rest in _below(get_args(annotation)[1])]
    return found


def _matches(parts: Shape, shape: Shape) -> bool:
    return len(parts) == len(shape) and all(
        s in (p, ANY_KEY) for p, s in zip(parts, shape, strict=True)
    )


def unknown_variables(environ: Mapping[str, str], model: type[BaseModel]) -> list[str]:
    """One sentence per `THROUGHLINE_…` variable in `environ` that names no setting."""
    known = shapes(model)
    problems = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(PREFIX) or upper in NON_SETTINGS or upper.startswith(TOOL_PREFIXES):
            continue
        parts = tuple(upper.removeprefix(PREFIX).split("__"))
        if any(_matches(parts, shape) for shape in known):
            continue
        # Compared without the prefix, which every name shares.
        names = [c.removeprefix(PREFIX) for c in _candidates(parts, known)]
        guess = difflib.get_close_matches(upper.removeprefix(PREFIX), names, n=1, cutoff=0.7)
        hint = (
            f"; did you mean {PREFIX}{guess[0]}?"
            if guess
            else (" (see the README's Configuration)")
        )
        problems.append(f"{name} is not a Throughline setting{hint}")
    return problems


def _candidates(parts: Shape, known: Iterable[Shape]) -> list[str]:
    """Known names with each mapping key taken from the variable itself (so a misspelt field
    under `THROUGHLINE_COLLECTORS__<NAME>__` is compared with that collector's fields)."""
    names = [
        PREFIX
        + "__".join(
            (parts[i] if i < len(parts) else "NAME") if s == ANY_KEY else s
            for i, s in enumerate(shape)
        )
        for shape in known
    ]
    return sorted(set(names) | NON_SETTINGS)
