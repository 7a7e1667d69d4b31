"""How long the `throughline` command takes to start, against Python's own start-up.

Runs each command N times in fresh processes (alternating, so machine load hits all alike) and
prints the median and the fastest run of each, and each median less the baseline's:

- baseline: `python -c pass` (the interpreter alone);
- `python -m throughline --help`;
- `throughline collect` with no collector configured (a cron job with nothing to do: it must
  not import pandas, Streamlit or the models, nor open the database);
- `import throughline.cli` and `import foundation.settings` (what every command loads).

    .venv/bin/python -m bench.startup [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

COMMANDS = {
    "python -c pass (baseline)": ["-c", "pass"],
    "throughline --help": ["-m", "throughline", "--help"],
    "throughline collect (nothing configured)": ["-m", "throughline", "collect"],
    "import throughline.cli": ["-c", "import throughline.cli"],
    "import foundation.settings": ["-c", "import foundation.settings"],
}


def measure(runs: int) -> dict[str, list[float]]:
    """Seconds per run of each command, `runs` times, interleaved."""
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("THROUGHLINE_")}
        env.update({"XDG_DATA_HOME": home, "HOME": home})
        timings: dict[str, list[float]] = {name: [] for name in COMMANDS}
        for _ in range(runs):
            for name, argv in COMMANDS.items():
                started = time.perf_counter()
                subprocess.run(
                    [sys.executable, *argv],
                    env=env,
                    check=True,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                timings[name].append(time.perf_counter() - started)
    return timings


def report(timings: dict[str, list[float]]) -> str:
    baseline = statistics.median(next(iter(timings.values())))
    lines = [f"{'command':<42} {'median':>8} {'fastest':>8} {'over baseline':>14}"]
    for name, seconds in timings.items():
        median = statistics.median(seconds)
        lines.append(
            f"{name:<42} {median:>7.3f}s {min(seconds):>7.3f}s {median - baseline:>13.3f}s"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each command (default 15)")
    args = parser.parse_args()
    print(f"{args.runs} runs each, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(report(measure(args.runs)))


if __name__ == "__main__":
    main()
