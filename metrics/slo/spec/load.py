"""Reading SLO files: YAML documents validated against the model, every problem collected."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from metrics.slo.spec.model import DEFAULT_KPI_NAMES, Slo
from metrics.slo.spec.problems import (
    SloConfigError,
    cross_field_problems,
    duplicate_keys,
    error_message,
    join,
    lines_of,
    where,
    yaml_problem,
)
from metrics.slo.windows import DEFAULT_BURN_WINDOWS, BurnWindow

DEFAULTS_PATH = Path(__file__).parent.parent / "defaults.yaml"


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
        raise SloConfigError(source, [f"{label}: not valid YAML: {yaml_problem(exc)}"]) from exc
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
        lines = lines_of(node)
        for dup_path, dup_line in duplicate_keys(node):
            problems.append(f"{label}: {join(prefix, dup_path)}: key given twice (line {dup_line})")
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
                    f"{label}: {join(prefix, loc)}: {error_message(error)}{where(lines, loc)}"
                )
            continue
        for loc, message in cross_field_problems(slo, windows):
            problems.append(f"{label}: {join(prefix, loc)}: {message}{where(lines, loc)}")
        if slo.name in first_seen:
            loc = ("metadata", "name")
            problems.append(
                f"{label}: {join(prefix, loc)}: duplicate name {slo.name!r} "
                f"(also slos[{first_seen[slo.name]}]){where(lines, loc)}"
            )
        else:
            first_seen[slo.name] = index
        slos.append(slo)
    if problems:
        raise SloConfigError(source, problems)
    return slos
