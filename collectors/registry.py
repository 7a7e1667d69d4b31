"""The registry of connectors: the modules that declare one, a line each, and what follows.

Every module in `CONNECTOR_MODULES` exports one `SPEC` (`collectors.spec.ConnectorSpec`); the
registry lists them by name and builds any of them the same way: its options from the connectors
file (validated against the spec), its settings, then the spec's `build`. Nothing here knows a
connector by name.

A connector's connection settings come from `Settings.collectors[name]` (base URL, schedule);
its secrets from the environment only (``THROUGHLINE_SECRETS__…``). The demo connectors read the
demo estate and are enabled only where their base URL is set: `throughline demo` sets it for the
processes it starts. The connectors for real systems stay disabled until configured: an HTTP
connector once its base URL (``THROUGHLINE_COLLECTORS__<NAME>__BASE_URL``) and its secrets are
set, one configured by its options (the log files) once its section says what to read. Their
options (nothing secret) come from the YAML file named by ``THROUGHLINE_CONNECTORS_FILE``
(`collectors.connectors_file`); see the README's "Connectors" section. A configuration mistake is
a `ConfigurationError` (a `ValueError`) in one sentence naming the variable or the option.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping

import httpx

from collectors import connectors_file
from collectors.base import Collector
from collectors.connector_options import OptionsSpec, validate_options
from collectors.spec import ConnectorSpec, Context, Options
from foundation.settings import Settings

#: The connector modules, one line each (the order the demo back-fill runs them in).
CONNECTOR_MODULES = (
    "collectors.demo_crm",
    "collectors.psa_rest",
    "collectors.demo_erp",
    "collectors.ipaas_jobs",
    "collectors.crm_salesforce",
    "collectors.crm_hubspot",
    "collectors.erp_netsuite",
    "collectors.ipaas_n8n",
    "collectors.logfiles",
    "collectors.erp_tryton",
)
CONNECTORS_FILE_ENV = connectors_file.CONNECTORS_FILE_ENV


def discover(modules: Iterable[str]) -> dict[str, ConnectorSpec]:
    """The `SPEC` of each module, by connector name (each name once)."""
    found: dict[str, ConnectorSpec] = {}
    for path in modules:
        spec = getattr(importlib.import_module(path), "SPEC", None)
        if not isinstance(spec, ConnectorSpec):
            raise TypeError(f"{path} exports no SPEC (a collectors.spec.ConnectorSpec)")
        if spec.name in found:
            raise ValueError(f"{path}: a connector named {spec.name!r} is registered already")
        found[spec.name] = spec
    return found


COLLECTORS: dict[str, ConnectorSpec] = discover(CONNECTOR_MODULES)
#: The connectors that take options from the connectors file, and their declarations.
OPTIONS: dict[str, OptionsSpec] = {
    name: spec.options for name, spec in COLLECTORS.items() if spec.options is not None
}


class UnknownCollector(KeyError):
    """A collector name that is not in the registry."""

    def __str__(self) -> str:
        return f"no collector named {self.args[0]!r}; known: {', '.join(sorted(COLLECTORS))}"


def demo_collectors() -> list[str]:
    """The connectors that read the demo estate, in registry order."""
    return [name for name, spec in COLLECTORS.items() if spec.kind == "demo"]


def load_connector_options(path: str | None = None) -> dict[str, Options]:
    """Every connector's options from the connectors file (``THROUGHLINE_CONNECTORS_FILE``, or
    `path`), validated; {} without one."""
    return connectors_file.load(COLLECTORS, path)


def enabled_collectors(settings: Settings) -> list[str]:
    """Registered collectors that are configured (see `ConnectorSpec.configured`) and not
    disabled."""
    options = load_connector_options()
    return [
        name
        for name, spec in COLLECTORS.items()
        if settings.collector(name).enabled and spec.configured(settings, options.get(name, {}))
    ]


def build_collector(
    name: str,
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
    options: Mapping[str, Options] | None = None,
) -> Collector:
    """The configured collector `name` (credentials resolved from the environment).

    ``options`` overrides the connectors file (tests pass them directly)."""
    spec = COLLECTORS.get(name)
    if spec is None:
        raise UnknownCollector(name)
    values: Options = {}
    source = "the connector options"
    if spec.options is not None:
        every: Mapping[str, Options]
        if options is None:
            source, every = connectors_file.source_name(), load_connector_options()
        else:
            every = options
        values = validate_options(name, spec.options, dict(every.get(name) or {}), source)
    return spec.build(Context(spec, settings, values, source, transport))


def collector_sources(settings: Settings) -> dict[str, tuple[str, int]]:
    """Enabled collectors → (source system, interval seconds), for freshness and SLO feeds."""
    return {
        name: (
            build_collector(name, settings).source_system,
            settings.collector(name).interval_seconds,
        )
        for name in enabled_collectors(settings)
    }
