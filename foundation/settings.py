"""Effective configuration: environment (`THROUGHLINE_…`) over an optional TOML file over defaults.

Secrets (tokens, passwords, client secrets, and URLs with a password in them) are accepted
**only** from the environment: a settings file that holds one is refused, so secrets never land
in a repository. Nested values use `__` in variable names, e.g.
`THROUGHLINE_COLLECTORS__DEMO_CRM__INTERVAL_SECONDS=60`. Demo mode is not a setting: only
`throughline demo` turns it on, for the processes it starts (see `foundation.rundir`).
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from foundation.currencies import CURRENCIES
from foundation.settings_sources import SETTINGS_FILE_ENV, DemoModeSource, TomlFileSource
from foundation.urls import mask_url_password, mask_urls

__all__ = ["Settings", "explain_settings_error", "get_settings", "mask_url_password"]


def user_data_dir() -> Path:
    """Per-user data directory: `$XDG_DATA_HOME/throughline` or `~/.local/share/throughline`."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "throughline"


def default_database_url() -> str:
    """A SQLite file in the per-user data directory (zero set-up)."""
    return f"sqlite:///{user_data_dir() / 'throughline.db'}"


def _currency(value: str) -> str:
    code = value.strip().upper()
    if code not in CURRENCIES:
        raise ValueError(f"{code!r:.40} is not an ISO 4217 currency code")
    return code


class LegalEntity(BaseModel):
    """A legal entity: its country drives the holiday calendar, its currency the books."""

    model_config = ConfigDict(extra="forbid")

    code: str
    name: str
    country: str = Field(description="ISO 3166 alpha-2 code, used for public holidays")
    currency: str = Field(description="ISO 4217 code of the entity's books")

    @field_validator("country")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        return _currency(value)


def _http_url(value: str | None) -> str | None:
    if value is None:
        return None
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in {"http", "https"} or not rest.strip("/"):
        raise ValueError("must be an http:// or https:// URL, e.g. https://erp.example.com")
    return value


class CollectorSettings(BaseModel):
    """Per-collector scheduling and connection settings (no secrets here)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    interval_seconds: int = Field(default=300, ge=5)
    base_url: str | None = None

    _base_url = field_validator("base_url")(_http_url)


Role = Literal["cfo", "pmo", "support", "admin"]


class AuthSettings(BaseModel):
    """Sign-in through OpenID Connect (Streamlit's `st.login`), and who gets which role.

    The client secret and the session-cookie secret are secrets:
    `THROUGHLINE_SECRETS__OIDC_CLIENT_SECRET`, `THROUGHLINE_SECRETS__OIDC_COOKIE_SECRET`.
    """

    model_config = ConfigDict(extra="forbid")

    server_metadata_url: str | None = Field(
        default=None, description="The provider's .well-known/openid-configuration URL"
    )
    client_id: str | None = None
    redirect_uri: str | None = Field(
        default=None, description="Default: http://localhost:<dashboard_port>/oauth2callback"
    )
    role_claim: str = Field(default="roles", description="ID-token claim holding the role(s)")
    roles: dict[str, Role] = Field(
        default_factory=lambda: {r: r for r in ("cfo", "pmo", "support", "admin")},
        description="Claim value → Throughline role",
    )
    practice_claim: str = Field(
        default="practices", description="ID-token claim limiting a PMO user to practices"
    )
    allow_anonymous: bool = Field(
        default=False, description="Serve a non-demo database without sign-in (everyone admin)"
    )
    max_session_hours: float = Field(
        default=8.0,
        gt=0,
        le=24 * 30,
        description="A sign-in ends when its ID token expires or after this many hours, "
        "whichever comes first; the next sign-in reads roles and practices afresh",
    )
    pmo_without_practices: Literal["none", "all"] = Field(
        default="none",
        description="What a PMO user whose token has no practice claim sees: no practice "
        "(deny by default) or all of them",
    )

    @property
    def configured(self) -> bool:
        """Whether an OpenID Connect provider is set up."""
        return bool(self.server_metadata_url and self.client_id)

    _urls = field_validator("server_metadata_url", "redirect_uri")(_http_url)


DEFAULT_ENTITIES = [
    LegalEntity(code="US", name="Throughline Demo Inc.", country="US", currency="USD"),
    LegalEntity(code="UK", name="Throughline Demo Ltd", country="GB", currency="GBP"),
    LegalEntity(code="DE", name="Throughline Demo GmbH", country="DE", currency="EUR"),
]


class Settings(BaseSettings):
    """Throughline's effective settings."""

    model_config = SettingsConfigDict(
        env_prefix="THROUGHLINE_", env_nested_delimiter="__", extra="forbid"
    )

    database_url: str = Field(default_factory=default_database_url)
    reporting_currency: str = "USD"
    legal_entities: list[LegalEntity] = Field(default_factory=lambda: list(DEFAULT_ENTITIES))
    collectors: dict[str, CollectorSettings] = Field(default_factory=dict)
    demo_seed: int = 7
    demo_port: int = Field(default=8765, ge=1, le=65535)
    dashboard_port: int = Field(default=8501, ge=1, le=65535)
    slo_file: str | None = Field(default=None, description="SLO YAML; default: shipped SLOs")
    future_tolerance_days: float = Field(
        default=1.0,
        gt=0,
        le=36_500,
        description="How far after a collector run's start a source time may lie before its "
        "record is quarantined as in the future (clock skew)",
    )
    slo_interval_seconds: int = Field(
        default=300, ge=10, description="How often the worker evaluates SLOs and sends alerts"
    )
    alert_webhooks: dict[str, Literal["slack", "teams", "json"]] = Field(
        default_factory=dict, description="Webhook name → payload format; URL in secrets"
    )
    demo_token: SecretStr | None = None
    demo_mode: bool = Field(
        default=False,
        description="Only in processes `throughline demo` starts: no sign-in, every page says so",
    )
    auth: AuthSettings = Field(default_factory=AuthSettings)
    secrets: dict[str, SecretStr] = Field(
        default_factory=dict, description="Connector credentials, e.g. THROUGHLINE_SECRETS__X"
    )

    @field_validator("reporting_currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        return _currency(value)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        scheme = value.partition("://")[0].partition("+")[0].lower()
        if "://" not in value or scheme not in {"sqlite", "postgresql"}:
            raise ValueError(
                "must be a SQLAlchemy URL of SQLite or PostgreSQL, e.g. "
                "sqlite:////var/lib/throughline/store.db or postgresql://user@host:5432/db"
            )
        return value

    @field_validator("*", mode="before")
    @classmethod
    def _utf8(cls, value: Any) -> Any:
        if isinstance(value, str) and _SURROGATE.search(value):  # undecodable environment bytes
            raise ValueError("is not valid UTF-8 text")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            DemoModeSource(settings_cls),
            env_settings,
            TomlFileSource(settings_cls),
        )

    def entity(self, code: str) -> LegalEntity | None:
        """The legal entity with this code, if configured."""
        return next((e for e in self.legal_entities if e.code == code), None)

    def collector(self, name: str) -> CollectorSettings:
        """Settings of one collector (defaults when not configured)."""
        return self.collectors.get(name, CollectorSettings())

    def masked(self) -> dict[str, Any]:
        """The effective settings as plain data with every secret and every URL's password
        (the database's, a collector's base URL, …) masked."""
        data: dict[str, Any] = mask_urls(self.model_dump(mode="json"))
        data["demo_token"] = "***" if self.demo_token else None
        data["secrets"] = {name: "***" for name in self.secrets}
        return data


_SURROGATE = re.compile("[\ud800-\udfff]")
_ENV_PARSE = re.compile(r'error parsing value for field "(\w+)" from source "EnvSettingsSource"')


def explain_settings_error(exc: BaseException) -> str:
    """A configuration error as sentences: each problem with its field and where it is set (the
    environment variable or the settings file). The values given are not repeated: one may be
    a secret."""
    if isinstance(exc, RecursionError):
        deep = [
            n
            for n, v in sorted(os.environ.items())
            if n.upper().startswith("THROUGHLINE_") and _nests_too_deeply(v)
        ]
        return f"{deep[0] if deep else 'a THROUGHLINE_ variable'} holds JSON nested too deeply"
    if isinstance(exc, ValidationError):
        problems = [
            f"  {'.'.join(map(str, e['loc']))}: {_problem(e['type'], e['msg'])} "
            f"({_set_where(e['loc'])})"
            for e in exc.errors(include_url=False, include_input=False)
        ]
        count = len(problems)
        return "\n".join([f"{count} problem{'s' if count != 1 else ''} in the settings", *problems])
    parsed = _ENV_PARSE.fullmatch(str(exc))
    if parsed:
        return f"THROUGHLINE_{parsed.group(1).upper()} is not valid JSON ({exc.__cause__})"
    return str(exc)


def _problem(kind: str, message: str) -> str:
    if kind == "extra_forbidden":
        return "not a setting (a typo?)"
    message = message.removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def _set_where(loc: tuple[int | str, ...]) -> str:
    """The environment variable that sets `loc` (if one does), else the settings file."""
    names = [
        str(p) for p in loc[: next((i for i, p in enumerate(loc) if isinstance(p, int)), len(loc))]
    ]
    env = {n.upper() for n in os.environ}
    for k in range(len(names), 0, -1):
        variable = "THROUGHLINE_" + "__".join(names[:k]).upper()
        if variable in env:
            return variable
    file = os.environ.get(SETTINGS_FILE_ENV)
    return f"in {file}" if file else "THROUGHLINE_" + "__".join(names).upper()


def _nests_too_deeply(value: str) -> bool:
    try:
        json.loads(value)
    except RecursionError:
        return True
    except ValueError:
        return False
    return False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
