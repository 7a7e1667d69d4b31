"""``python -m collectors.demo_estate``: serve the demo estate until interrupted."""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from types import FrameType

from collectors.demo_estate.clock import SimClock
from collectors.demo_estate.server import DemoEstateServer
from collectors.demo_estate.simulate import simulate


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, simulate, serve."""
    parser = argparse.ArgumentParser(prog="python -m collectors.demo_estate", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--token",
        default=os.environ.get("DEMO_ESTATE_TOKEN"),
        help="bearer token clients must send (default: $DEMO_ESTATE_TOKEN)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--horizon-months", type=int, default=3)
    parser.add_argument("--live", action="store_true", help="let simulated time run")
    parser.add_argument(
        "--speed", type=float, default=3600.0, help="simulated seconds per real second in live mode"
    )
    parser.add_argument("--rate-limit", type=int, default=50, help="requests per second per token")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("--token (or DEMO_ESTATE_TOKEN) is required")
    started = time.perf_counter()
    estate = simulate(seed=args.seed, months=args.months, horizon_months=args.horizon_months)
    clock = SimClock(estate.history_end, live=args.live, speed=args.speed)
    server = DemoEstateServer(
        estate,
        args.token,
        host=args.host,
        port=args.port,
        clock=clock,
        rate_limit=args.rate_limit or None,
    )
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    with server:
        base = server.base_url
        print(f"demo estate (seed {args.seed}) simulated in {time.perf_counter() - started:.1f} s")
        print(f"serving on {base}  clock: {clock!r}")
        print(f"  CRM instance URL  {base}/crm   (SOQL: /services/data/v60.0/query)")
        print(f"  PSA               {base}/psa/api/v1/")
        print(f"  ERP (SuiteQL)     {base}/erp/services/rest/query/v1/suiteql")
        print(f"  iPaaS job log     {base}/ipaas/api/v1/jobs")
        print(f"  ground truth      {base}/_truth?as_of=<iso>", flush=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
