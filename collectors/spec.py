"""One declaration per connector: everything the registry needs to list, check and build it.

Each connector module exports one `SPEC` (a `ConnectorSpec`): its name and kind, what it says
it reads, its options (a configuration dataclass, see `collectors.connector_options`), which
secrets it needs, its streams, how to build the collector, and where its recorded API answers
are (the fixture directory the contract suite and the fake API serve). `collectors.registry`
lists the modules, one line each, and does the rest generically; the README's "Adding a
connector" says how to add one.

A spec's `build` receives a `Context`: the settings, the validated options and the helpers every
connector needs (its checked base URL, its secrets, or a stand-in that fails each request with a
sentence naming the missing ones).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from collectors.base import Collector
from collectors.connector_options import OptionsSpec, build_config, option_error
from collectors.errors import AuthFailed, ConfigurationError
from collectors.http import BearerAuth
from foundation.settings import Settings

Options = dict[str, Any]
Kind = Literal["connector", "demo"]
#: The secrets a connector needs, fixed or given its options.
Secrets = tuple[str, ...] | Callable[[Options], Sequence[str]]


@dataclass(frozen=True, eq=False)
class ConnectorSpec:
    """A connector as the registry knows it.

    A `demo` connector reads the demo estate at `path` (its base URL, which `throughline demo`
    sets, plus the path; the demo token as bearer) and has no options. A `connector` reads a
    real system: it is configured once it has its base URL (or, with `ready`, once its options
    say what to read) and its `secrets`. `fixtures` is the directory, relative to the
    repository, of its recorded API answers and their `api.yaml` (see
    `tests/fixtures/http/README.md`).
    """

    name: str
    kind: Kind
    description: str
    build: Callable[[Context], Collector]
    streams: tuple[str, ...]
    options: OptionsSpec | None = None
    secrets: Secrets = ()
    fixtures: str | None = None
    path: str = ""
    ready: Callable[[Options], bool] | None = None

    def required_secrets(self, options: Options) -> list[str]:
        """The secrets this connector needs with these options."""
        return list(self.secrets if isinstance(self.secrets, tuple) else self.secrets(options))

    def configured(self, settings: Settings, options: Options) -> bool:
        """Whether it has what it needs to run: a demo connector its base URL (which `throughline
        demo` sets for its worker, so a production `collect` never polls a demo estate); a
        connector its URL (or, with `ready`, its options) and its secrets."""
        has_url = bool(self.name in settings.collectors and settings.collectors[self.name].base_url)
        if self.kind == "demo":
            return has_url
        if self.ready is not None:
            return self.ready(options)
        return has_url and not missing(settings, self.required_secrets(options))

    def source_url(self, settings: Settings) -> str | None:
        """Where its records come from, for the dashboard's links (None: not a URL)."""
        if self.kind == "demo":
            return demo_url(settings, self.name, self.path)
        return settings.collector(self.name).base_url or None


def missing(settings: Settings, names: Sequence[str]) -> list[str]:
    """The secrets among `names` the settings do not have."""
    return [n for n in names if n not in settings.secrets]


def demo_url(settings: Settings, name: str, path: str) -> str:
    """A demo connector's URL: its base URL (else the local estate's) and its path."""
    base = settings.collector(name).base_url or f"http://127.0.0.1:{settings.demo_port}"
    return f"{base.rstrip('/')}/{path}"


class MissingSecret(httpx.Auth):
    """Stands in for credentials that are not configured: every request fails with a sentence."""

    def __init__(self, collector: str, names: Sequence[str]) -> None:
        self._message = f"{collector} has no credentials: set " + ", ".join(
            f"THROUGHLINE_SECRETS__{n.upper()}" for n in names
        )

    def __repr__(self) -> str:
        return "MissingSecret()"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise AuthFailed(self._message)
        yield request  # unreachable: makes this a generator, as httpx expects


@dataclass(frozen=True)
class Context:
    """What a connector is built from: its spec, the settings, its validated options (`source`
    names where they came from, for messages) and, in tests, a transport."""

    spec: ConnectorSpec
    settings: Settings
    options: Options
    source: str
    transport: httpx.BaseTransport | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def config(self, **elsewhere: Any) -> Any:
        """The connector's configuration dataclass from its options and `elsewhere`."""
        assert self.spec.options is not None, f"{self.name} declares no options"
        return build_config(self.name, self.spec.options, self.options, self.source, **elsewhere)

    def error(self, key: str | None, problem: str) -> ConfigurationError:
        """A configuration error naming the file, this connector and the option `key`."""
        return option_error(self.source, self.name, key, problem)

    def secret(self, name: str) -> str | None:
        """The secret `name` (``THROUGHLINE_SECRETS__<NAME>``), if set."""
        value = self.settings.secrets.get(name)
        return value.get_secret_value() if value is not None else None

    def credentials(self, names: Sequence[str], make: Callable[..., httpx.Auth]) -> httpx.Auth:
        """`make(*secrets)` for the secrets `names`, or a `MissingSecret` naming those unset
        (or empty)."""
        absent = [n for n in names if not self.secret(n)]
        if absent:
            return MissingSecret(self.name, absent)
        return make(*(self.secret(n) or "" for n in names))

    def base_url(self, default: str | None = None) -> str:
        """The connector's URL (``THROUGHLINE_COLLECTORS__<NAME>__BASE_URL``), checked to be one."""
        variable = f"THROUGHLINE_COLLECTORS__{self.name.upper()}__BASE_URL"
        url = (self.settings.collector(self.name).base_url or default or "").strip()
        if not url:
            raise ConfigurationError(f"{self.name} has no base URL: set {variable}")
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL:
            parsed = None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
            raise ConfigurationError(
                f"{variable} must be an http(s) URL such as https://{self.name}.example.com,"
                f" not {url!r:.80}"
            )
        return url

    def demo_url(self) -> str:
        """A demo connector's URL: the estate's base URL and the spec's path."""
        return demo_url(self.settings, self.name, self.spec.path)

    def demo_auth(self) -> httpx.Auth:
        """The demo estate's bearer token."""
        token = self.settings.demo_token
        return BearerAuth(token.get_secret_value() if token else "")

    def check_entities(self, option: str = "legal_entities") -> None:
        """The option `option` maps to configured legal entity codes only (else: no business
        calendar)."""
        codes = [e.code for e in self.settings.legal_entities]
        unknown = sorted(set(self.options[option].values()) - set(codes))
        if unknown:
            raise self.error(
                option,
                f"{', '.join(unknown)} is not a configured legal entity"
                f" (known: {', '.join(codes)}; see THROUGHLINE_LEGAL_ENTITIES)",
            )
