"""Every option of every connector in the connectors file, declared once and validated.

A connector's options (the `OptionsSpec` in its spec) are its configuration dataclass
(`erp_tryton.TrytonConfig`, `ipaas_n8n.N8nConfig`, …) less what comes from elsewhere (its URL
from the environment, the legal entities from the settings), plus a few options used only to
connect (Salesforce's OAuth flow, NetSuite's account). From that declaration this module builds
a pydantic model per connector that refuses unknown options, wrong types and bad values (a
dataclass's own checks) in one sentence naming the file, the connector and the key, and the
README's options tables (`collectors.connector_tables`; a test keeps them in step).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from collectors.errors import ConfigurationError

Values = dict[str, Any]


@dataclass(frozen=True, eq=False)
class OptionsSpec:
    """How a connector's options derive from its configuration dataclass (part of its
    `collectors.spec.ConnectorSpec`)."""

    config: type[Any]
    #: Configuration fields the file may not set → where they come from instead.
    elsewhere: Mapping[str, str] = field(default_factory=dict)
    #: Options only used to connect: name → (type, default).
    connection: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    #: The connector's defaults where they differ from the dataclass's.
    defaults: Mapping[str, Any] = field(default_factory=dict)


def hints(cls: type[Any]) -> dict[str, Any]:
    """A dataclass's field types, resolved in its own module."""
    return typing.get_type_hints(cls)


def default_of(f: dataclasses.Field[Any]) -> Any:
    """A dataclass field's default value (``...`` when it has none: required)."""
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return ...


def url_variable(name: str) -> dict[str, str]:
    """`elsewhere` for a connector whose ``base_url`` is its URL setting."""
    return {"base_url": f"THROUGHLINE_COLLECTORS__{name.upper()}__BASE_URL"}


@functools.cache
def options_model(connector: str, spec: OptionsSpec) -> type[BaseModel]:
    """The pydantic model of `connector`'s section of the connectors file."""
    types_ = hints(spec.config)
    fields: dict[str, Any] = dict(spec.connection)  # first: how to connect
    for f in dataclasses.fields(spec.config):
        if f.name in spec.elsewhere:
            continue
        if f.name in spec.defaults:
            default: Any = Field(default=spec.defaults[f.name])
        elif f.default_factory is not dataclasses.MISSING:
            default = Field(default_factory=f.default_factory)
        else:
            default = default_of(f)
        fields[f.name] = (types_[f.name], default)
    config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, frozen=True)
    model: type[BaseModel] = create_model(
        f"{connector.title()}Options", __config__=config, **fields
    )
    return model


def validate_options(
    connector: str, spec: OptionsSpec, data: Mapping[str, Any], source: str
) -> Values:
    """`connector`'s options from the file (`source` names it in messages), validated against
    `spec`: the model's fields by name, nested ones as their dataclasses."""
    set_elsewhere = sorted(set(data) & set(spec.elsewhere))
    if set_elsewhere:
        key = set_elsewhere[0]
        raise ConfigurationError(
            f"{source}: {connector}.{key} is not set in the connectors file but with "
            f"{spec.elsewhere[key]}"
        )
    model = options_model(connector, spec)
    try:
        validated = model.model_validate(dict(data))
    except ValidationError as exc:
        problems = [_problem(model, error) for error in exc.errors()]
        raise ConfigurationError(
            f"{source}: " + "; ".join(f"{connector}.{p}" for p in problems)
        ) from None
    values = {name: getattr(validated, name) for name in type(validated).model_fields}
    build_config(connector, spec, values, source, **_stand_ins(spec))  # the dataclass's own checks
    return values


def _stand_ins(spec: OptionsSpec) -> dict[str, Any]:
    """Values for the required fields that come from elsewhere, to check the options alone."""
    return {
        f.name: "https://connector.invalid/check/"
        for f in dataclasses.fields(spec.config)
        if f.name in spec.elsewhere
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    }


def build_config(
    connector: str, spec: OptionsSpec, values: Mapping[str, Any], source: str, **elsewhere: Any
) -> Any:
    """The connector's configuration dataclass from validated options and what comes from
    elsewhere; its own checks become a `ConfigurationError` naming the key."""
    names = {f.name for f in dataclasses.fields(spec.config)}
    given = {k: v for k, v in values.items() if k in names and k not in spec.elsewhere}
    try:
        return spec.config(**given, **elsewhere)
    except ValueError as exc:
        raise option_error(source, connector, *_split(str(exc), names)) from None


def option_error(source: str, connector: str, key: str | None, problem: str) -> ConfigurationError:
    """One sentence naming the file, the connector and the option."""
    where = f"{connector}.{key}" if key else connector
    return ConfigurationError(f"{source}: {where}: {problem}")


def _split(message: str, names: set[str]) -> tuple[str | None, str]:
    """``"limit: …"`` → (``limit``, ``…``) when `limit` is one of `names`."""
    head, sep, rest = message.partition(": ")
    return (head, rest) if sep and head in names else (None, message)


def _problem(model: type[BaseModel], error: Any) -> str:
    """One pydantic error as ``<key> <problem>``."""
    loc = [str(p) for p in error["loc"]]
    kind, message = error["type"], str(error["msg"])
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        known = _known_at(model, loc[:-1])
        close = difflib.get_close_matches(loc[-1], known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return f"{_key(error['loc'])} is not an option{hint}; known: {', '.join(known)}"
    if kind == "missing":
        return f"{_key(error['loc'])} is required"
    if kind == "value_error":
        message = message.removeprefix("Value error, ")
        head, rest = _split(message, set(_known_at(model, loc)))
        key = _key((*error["loc"], head)) if head else _key(error["loc"])
        return f"{key}: {rest}"
    problem = _PLAIN.get(kind) or message.replace("Input should be", "should be")
    return f"{_key(error['loc'])} {problem} (got {error.get('input')!r:.60})"


#: Pydantic's error types in the words of a YAML file.
_PLAIN = {
    **dict.fromkeys(("frozen_set_type", "set_type", "list_type", "tuple_type"), "should be a list"),
    **dict.fromkeys(("dict_type", "mapping_type"), "should be a mapping of names to values"),
    **dict.fromkeys(
        ("dataclass_type", "dataclass_exact_type", "model_type"), "should be a mapping of options"
    ),
    "string_type": "should be text",
    **dict.fromkeys(("int_type", "int_parsing", "int_from_float"), "should be a whole number"),
    **dict.fromkeys(("bool_type", "bool_parsing"), "should be true or false"),
}


def _key(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out


def _known_at(model: type[BaseModel], loc: list[str]) -> list[str]:
    """The option names at `loc` (nested dataclasses and lists of them followed)."""
    names: dict[str, Any] = {n: f.annotation for n, f in model.model_fields.items()}
    for part in loc:
        if part.isdigit():
            continue
        kind = dataclass_in(names.get(part))
        if kind is None:
            return []
        names = hints(kind)
    return list(names)


def dataclass_in(hint: Any) -> type[Any] | None:
    """The dataclass a type names, directly, as optional or as the items of a tuple."""
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return hint
    for arg in typing.get_args(hint):
        if arg is not Ellipsis and (found := dataclass_in(arg)) is not None:
            return found
    return None
