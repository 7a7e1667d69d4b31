"""Where settings come from besides the environment: the optional TOML settings file (which may
hold no secret, no URL with a password in it, and no demo mode) and the demo's pass."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from foundation.rundir import demo_mode_granted
from foundation.urls import password_keys

SETTINGS_FILE_ENV = "THROUGHLINE_SETTINGS_FILE"
SECRET_FIELDS = frozenset({"demo_token", "secrets"})


class TomlFileSource(PydanticBaseSettingsSource):
    """Reads the optional settings file and refuses secrets in it."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        path = os.environ.get(SETTINGS_FILE_ENV)
        self._data: dict[str, Any] = {}
        if path:
            file = Path(path)
            try:
                raw = file.read_bytes()
            except FileNotFoundError as exc:
                raise ValueError(
                    f"{SETTINGS_FILE_ENV} points to {file}, which does not exist"
                ) from exc
            except OSError as exc:
                raise ValueError(f"{file}: cannot read: {exc.strerror or exc}") from exc
            try:
                self._data = tomllib.loads(raw.decode("utf-8-sig"))
            except UnicodeDecodeError as exc:
                line = raw[: exc.start].count(b"\n") + 1
                raise ValueError(
                    f"{file}, line {line}: not UTF-8 text (byte {raw[exc.start]:#04x})"
                ) from exc
            except tomllib.TOMLDecodeError as exc:
                raise ValueError(f"{file}: not valid TOML: {exc}") from exc
            except RecursionError as exc:
                raise ValueError(f"{file}: not valid TOML: nested too deeply") from exc
            leaked = sorted(SECRET_FIELDS & self._data.keys())
            if leaked:
                raise ValueError(
                    f"{file}: {', '.join(leaked)} is a secret and is only read from the "
                    "environment (THROUGHLINE_…); remove it from the file"
                )
            in_urls = password_keys(self._data)
            if in_urls:
                raise ValueError(
                    f"{file}: {', '.join(in_urls)} holds a password in its URL; secrets are only "
                    f"read from the environment: set {_variable(in_urls[0])} there instead"
                )
            if "demo_mode" in self._data:
                raise ValueError(f"{file}: demo_mode {_DEMO_MODE_REFUSED}")

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


_DEMO_MODE_REFUSED = (
    "is not a setting: only `throughline demo` serves without sign-in as a demo; to serve "
    "without sign-in set THROUGHLINE_AUTH__ALLOW_ANONYMOUS=true"
)


def _variable(key: str) -> str:
    """The environment variable of a dotted settings key (`auth.client_id` →
    `THROUGHLINE_AUTH__CLIENT_ID`)."""
    return "THROUGHLINE_" + key.split("[", 1)[0].replace(".", "__").upper()


class DemoModeSource(PydanticBaseSettingsSource):
    """Demo mode, from the pass `throughline demo` gives the processes it starts (never from a
    variable or the settings file: `THROUGHLINE_DEMO_MODE` is refused)."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        if any(name.upper() == "THROUGHLINE_DEMO_MODE" for name in os.environ):
            raise ValueError(f"THROUGHLINE_DEMO_MODE {_DEMO_MODE_REFUSED}")
        self._granted = demo_mode_granted(os.environ)

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return (True if field_name == "demo_mode" and self._granted else None), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {"demo_mode": True} if self._granted else {}
