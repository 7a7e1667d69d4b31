"""Mapping files: YAML read with the line of every key, and every problem named at once.

A problem reads ``<file>: <key>: <what is wrong> (line N)``, e.g. ``map.yaml:
objects.work_item.attributes.billable: Throughline reads it as a boolean … (line 31)``. Loading
lists every schema problem (unknown keys, wrong shapes, names outside Throughline's vocabulary)
and every check that needs no file (link directions, activities without their object …); the
importer then checks the mapping against the file it reads (its columns, its declared types)
and again lists every problem before any row is read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError

KeyPath = tuple[str | int, ...]
_M = TypeVar("_M", bound="Strict")
_BOOL = "tag:yaml.org,2002:bool"


class YamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 booleans: only true and false. (YAML 1.1 also reads
    on/off/yes/no as booleans, so the key `on:` or Norway's code NO would become one.)"""


YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _BOOL]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
YamlLoader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class ImportFailed(Exception):
    """The import cannot run at all (unreadable file, a mapped column missing, lock taken)."""


class MappingFileError(ImportFailed):
    """A mapping file is unusable; the message names the file, each key and its line."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a mapping: where (a key path) and what."""

    path: KeyPath
    message: str


def key_name(path: KeyPath) -> str:
    """A key path as written in the messages: ``links[0].from``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f"{'.' if out else ''}{part}"
    return out or "(top level)"


@dataclass(frozen=True)
class MappingSource:
    """The file a mapping came from and the line of each of its keys (1-based)."""

    name: str
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line(self, path: KeyPath) -> int | None:
        """The line of `path`, else of its nearest enclosing key."""
        for end in range(len(path), -1, -1):
            found = self.lines.get(path[:end])
            if found is not None:
                return found
        return None

    def describe(self, problem: Problem) -> str:
        """The sentence for one problem."""
        line = self.line(problem.path)
        where = f" (line {line})" if line is not None and problem.path else ""
        return f"{self.name}: {key_name(problem.path)}: {problem.message}{where}"


CODE = MappingSource("mapping")  # a mapping built in code has no file


class Strict(BaseModel):
    """Base of the mapping-file models: unknown keys are refused; remembers its file."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    _source: MappingSource = PrivateAttr(default=CODE)

    @property
    def source(self) -> MappingSource:
        """Where the mapping came from (its file and key lines)."""
        return self._source

    def problems(self) -> list[Problem]:
        """What is wrong with the mapping on its own (subclasses add their checks)."""
        return []


def refuse(source: MappingSource, problems: Iterable[Problem]) -> None:
    """Raise `MappingFileError` naming every problem, if there is any."""
    found = list(dict.fromkeys(problems))
    if found:
        raise MappingFileError("\n".join(source.describe(p) for p in found))


def _lines(node: yaml.Node | None, path: KeyPath, out: dict[KeyPath, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            here = (*path, str(key.value))
            out.setdefault(here, key.start_mark.line + 1)
            _lines(value, here, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            here = (*path, index)
            out.setdefault(here, item.start_mark.line + 1)
            _lines(item, here, out)


def _data_path(loc: Sequence[str | int], data: Any) -> KeyPath:
    """The part of a pydantic error location that names keys of the file (union branch and
    validator tags such as ``str`` or ``function-after[…]`` left out)."""
    path: list[str | int] = []
    current = data
    for part in loc:
        if isinstance(current, dict) and str(part) in map(str, current):
            key = next(k for k in current if str(k) == str(part))
            path.append(str(part))
            current = current[key]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            path.append(part)
            current = current[part]
        elif not isinstance(current, dict | list):
            break
        elif isinstance(current, dict) and not isinstance(part, int) and "[" not in str(part):
            path.append(str(part))  # a key the file lacks (e.g. a required one) or an extra
            break
    return tuple(path)


def load_mapping(path: Path, model: type[_M]) -> _M:
    """The YAML file at `path` as `model`; `MappingFileError` naming every problem."""
    source = MappingSource(str(path))
    try:
        loader = YamlLoader(path.read_text(encoding="utf-8"))
        try:
            node = loader.get_single_node()
            data = None if node is None else loader.construct_document(node)
        finally:
            loader.dispose()
    except OSError as exc:
        raise MappingFileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise MappingFileError(f"{path}: not valid YAML: {exc}") from exc
    lines: dict[KeyPath, int] = {}
    _lines(node, (), lines)
    source = MappingSource(str(path), lines)
    data = data if data is not None else {}
    try:
        mapping = model.model_validate(data)
    except ValidationError as exc:
        problems = [
            Problem(_data_path(e["loc"], data), e["msg"].removeprefix("Value error, "))
            for e in exc.errors(include_url=False)
        ]
        raise MappingFileError("\n".join(map(source.describe, problems))) from None
    mapping._source = source
    refuse(source, mapping.problems())
    return mapping
