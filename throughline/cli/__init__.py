"""The `throughline` command: one entry point for the demo, the dashboard, the worker and ops.

Exit status: 0 done, 1 the work failed (a collector run, a breached SLO, a refused import),
2 the configuration is wrong: a missing or misspelt setting, secret, option or file, said in
one sentence that names it (never a traceback). Heavy modules (pandas, SQLAlchemy's models,
Streamlit, …) are imported by the subcommand that uses them, so `--help` answers at once.

The subcommands live by group: `run` (demo, serve, worker), `data` (collect, backfill, import,
fx import, export), `report` (kpis, slo check), `admin` (db upgrade, db rebuild-facts, config);
`parser` declares them all. Every command that reads or writes the store opens it through
`throughline.preflight.opened_store`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from throughline.cli.options import Handler
from throughline.cli.parser import ACTIONS, build_parser
from throughline.preflight import ConfigurationError, check_environment

__all__ = ["CONFIGURATION_ERROR", "INTERRUPTED", "build_parser", "main"]

CONFIGURATION_ERROR = 2
INTERRUPTED = 130  # the shell's status for a command stopped by SIGINT


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    args = build_parser().parse_args(argv)
    from foundation.settings import explain_settings_error, get_settings

    command = " ".join(
        str(v) for v in (args.command, *(getattr(args, k, None) for k in ACTIONS)) if v
    )
    try:
        check_environment()
        settings = get_settings()
    except (ValueError, RecursionError) as exc:
        print(f"throughline: configuration error: {explain_settings_error(exc)}", file=sys.stderr)
        return CONFIGURATION_ERROR
    try:
        handler: Handler = args.handler
        return handler(args, settings)
    except ConfigurationError as exc:
        print(f"throughline {command}: {exc}", file=sys.stderr)
        return CONFIGURATION_ERROR
    except KeyboardInterrupt:  # Ctrl-C: stopped on request, not a crash
        print(file=sys.stderr)
        return INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
