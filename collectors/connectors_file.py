"""The connectors file: every connector's options (nothing secret), one YAML section each.

``THROUGHLINE_CONNECTORS_FILE`` names it. Each section is validated against its connector's
declared options (`collectors.connector_options`); secrets, unknown connectors and options,
wrong types and bad values are refused with a message naming the file, the connector and the key.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from collectors.connector_options import validate_options
from collectors.errors import ConfigurationError
from collectors.spec import ConnectorSpec, Options

CONNECTORS_FILE_ENV = "THROUGHLINE_CONNECTORS_FILE"
_SECRET_WORDS = ("secret", "token", "password", "private_key", "api_key", "apikey")


def load(specs: Mapping[str, ConnectorSpec], path: str | None = None) -> dict[str, Options]:
    """Every connector's options from the file at `path` (default: the variable's), if any."""
    path = path if path is not None else os.environ.get(CONNECTORS_FILE_ENV)
    if not path:
        return {}
    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ConfigurationError(
            f"{CONNECTORS_FILE_ENV} points to {file}, which does not exist"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{file}: cannot be read ({exc})") from exc
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{file}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(v, dict | None) for v in data.values()):
        raise ConfigurationError(f"{file}: expected one mapping of options per connector name")
    leaked = sorted(_secret_keys(data))
    if leaked:
        raise ConfigurationError(
            f"{file}: {', '.join(leaked)} looks like a secret; secrets are only read from the "
            "environment (THROUGHLINE_SECRETS__…); remove it from the file"
        )
    known = {name: spec.options for name, spec in specs.items() if spec.options is not None}
    sections = {str(k): dict(v or {}) for k, v in data.items()}
    for name, section in sections.items():
        options = known.get(name)
        if options is None:
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigurationError(
                f"{file}: {name} is not a connector{hint}; known: {', '.join(known)}"
            )
        validate_options(name, options, section, str(file))
    return sections


def source_name() -> str:
    """How messages name the connectors file."""
    return os.environ.get(CONNECTORS_FILE_ENV) or "the connectors file"


def _secret_keys(data: Any, where: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            here = f"{where}.{key}" if where else str(key)
            name = str(key).lower()
            secret_like = any(w in name for w in _SECRET_WORDS)
            if (
                secret_like
                and not name.endswith(("_file", "_path", "_url"))
                and not isinstance(value, dict | list)
            ):
                found.append(here)
            found.extend(_secret_keys(value, here))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found.extend(_secret_keys(value, f"{where}[{i}]"))
    return found
