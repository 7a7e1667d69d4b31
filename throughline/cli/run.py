"""The long-running commands: `demo`, `serve` (the dashboard) and `worker`."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from throughline.preflight import ConfigurationError, collectors_to_run, prepare_store

if TYPE_CHECKING:
    from foundation.settings import Settings


def demo(args: argparse.Namespace, settings: Settings) -> int:
    """`throughline demo`: the demo firm end to end (collected, then served live)."""
    collectors_to_run(settings, None)  # the worker runs the configured connectors too
    from throughline.demo import run_demo

    return run_demo(settings, live_speed=args.speed, open_browser=not args.no_browser)


def serve(args: argparse.Namespace, settings: Settings) -> int:
    """`throughline serve`: the dashboard on the configured database."""
    from foundation.rundir import claim, release
    from throughline.processes import run_forwarding_signals, streamlit_command
    from throughline.signin import refusal, write_streamlit_secrets

    reason = refusal(settings)
    if reason:
        raise ConfigurationError(reason)
    prepare_store(settings)
    private = claim("serve")  # removes what a killed earlier `serve` left behind
    try:
        secrets_file = (
            write_streamlit_secrets(settings, private) if settings.auth.configured else None
        )
        command = streamlit_command(settings.dashboard_port, secrets_file=secrets_file)
        return run_forwarding_signals(command)
    finally:
        release(private)


def worker(args: argparse.Namespace, settings: Settings) -> int:
    """`throughline worker`: the collectors on their schedules until SIGTERM."""
    import logging

    collectors_to_run(settings, None)
    from throughline.worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry raw URLs
    logging.getLogger("alembic").setLevel(logging.WARNING)  # a line per plugin at every start
    prepare_store(settings)
    return run_worker(settings)
