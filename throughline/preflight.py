"""What a command checks before it does any work: the environment's variable names, the store it
opens and the collectors it will run. Each problem is one sentence naming the variable, option
or file to fix (`ConfigurationError`; the command line prints it and exits with status 2).

Nothing heavy is imported here until a check needs it, so `throughline --help` stays fast.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from foundation.environment import unknown_variables

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from foundation.settings import Settings


class ConfigurationError(ValueError):
    """A setting, secret, option or file is missing or wrong; the message says which."""


def check_environment() -> None:
    """Refuse `THROUGHLINE_…` variables that name no setting (a typo would be ignored)."""
    from foundation.settings import Settings

    problems = unknown_variables(os.environ, Settings)
    if problems:
        raise ConfigurationError("; ".join(problems))


def store_engine(settings: Settings) -> Engine:
    """The engine of the configured database (nothing is opened yet)."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    from store.db import make_engine

    try:
        return make_engine(settings.database_url)
    except (ArgumentError, NoSuchModuleError) as exc:
        problem = f"{_where(settings)} is not a URL Throughline can use: {exc}"
    except OSError as exc:  # the SQLite file's directory cannot be made
        problem = f"cannot create the database at {_where(settings)}: {exc}"
    raise ConfigurationError(problem)


@contextmanager
def opened_store(settings: Settings, *, migrate: bool = True) -> Iterator[Engine]:
    """The configured store for one command, the one way a command opens it: its engine, the
    schema first brought to the code's revision (unless `migrate` is false: `db upgrade` moves
    it itself), disposed when the command is done. A database that cannot be opened is a
    `ConfigurationError` naming THROUGHLINE_DATABASE_URL."""
    from metrics.facts import ensure_current

    engine = store_engine(settings)
    try:
        if migrate:
            with database_errors(settings):
                ensure_current(engine)
        yield engine
    finally:
        engine.dispose()


def prepare_store(settings: Settings) -> None:
    """Open the store once, bringing its schema up to date, and close it again: for a command
    that hands the store to processes of its own (the worker, the dashboard, the demo)."""
    with opened_store(settings):
        pass


@contextmanager
def database_errors(settings: Settings) -> Iterator[None]:
    """A driver error raised inside becomes "cannot open the database at …" (one sentence,
    `unusable_database`)."""
    from sqlalchemy.exc import DBAPIError

    try:
        yield
    except DBAPIError as exc:
        raise unusable_database(settings, exc) from None


def unusable_database(settings: Settings, exc: Exception) -> ConfigurationError:
    """The database cannot be opened (unreachable, refused, not a database): the first line of
    the driver's reason, with the variable that names the database."""
    cause = getattr(exc, "orig", None)
    text = str(cause if cause is not None else exc).strip()
    reason = text.splitlines()[0] if text else type(exc).__name__
    return ConfigurationError(f"cannot open the database at {_where(settings)}: {reason}")


def _where(settings: Settings) -> str:
    from foundation.urls import mask_url_password

    return f"THROUGHLINE_DATABASE_URL ({mask_url_password(settings.database_url)})"


def collectors_to_run(settings: Settings, name: str | None) -> list[str]:
    """The collectors a command runs: `name`, or every enabled one. Each must be known, have
    its secrets and build from its options; without `name`, so must every collector given a
    base URL (one missing its secret would otherwise be skipped without a word)."""
    from collectors.registry import enabled_collectors, load_connector_options

    try:
        options = load_connector_options()
        _known(options, "the connectors file (THROUGHLINE_CONNECTORS_FILE) has a section")
        _known(settings.collectors, "the settings (THROUGHLINE_COLLECTORS__<NAME>__…) name")
        if name is not None:
            _known([name], "there is")
            names = checked = [name]
        else:
            names = enabled_collectors(settings)
            with_url = [n for n, c in settings.collectors.items() if c.enabled and c.base_url]
            checked = list(dict.fromkeys([*names, *with_url]))
        for each in checked:
            check_collector(settings, each, options.get(each, {}))
    except ConfigurationError:
        raise
    except ValueError as exc:  # a connector refusing its options says which, in one sentence
        raise ConfigurationError(str(exc)) from None
    return names


def _known(names: Iterable[str], where: str) -> None:
    from collectors.registry import COLLECTORS

    for name in names:
        if name not in COLLECTORS:
            guess = difflib.get_close_matches(str(name).lower(), list(COLLECTORS), n=1)
            hint = f"did you mean {guess[0]!r}?" if guess else f"known: {', '.join(COLLECTORS)}"
            raise ConfigurationError(f"{where} no collector named {name!r}; {hint}")


def check_collector(settings: Settings, name: str, options: dict[str, Any]) -> None:
    """Refuse a collector whose secrets are missing or that cannot be built from its options."""
    from collectors.registry import COLLECTORS, build_collector

    spec = COLLECTORS[name]
    missing = [s for s in spec.required_secrets(options) if s not in settings.secrets]
    if missing:
        variables = ", ".join(f"THROUGHLINE_SECRETS__{s.upper()}" for s in missing)
        raise ConfigurationError(f"{name} has no credentials: set {variables}")
    if spec.kind == "demo" and settings.demo_token is None:
        raise ConfigurationError(f"{name} reads the demo estate: set THROUGHLINE_DEMO_TOKEN")
    build_collector(name, settings, options={name: options})
