"""iPaaS side of the simulation: job chains (attempts and retries) with realistic failures.

The firm's integrations are well run: the platform retries timeouts, 429s and 503s inside an
execution, so in ordinary weeks a first attempt does not fail (at ten to a hundred first attempts
a week per integration, a 99 % first-attempt SLO allows less than one failure a week). Failed
first attempts come from the planted incidents: the ERP outage and its recovery (the backlog
drains into the ERP's rate limit; projects created that morning are missing from the restored
ERP), the bad release day, and the provisioning checks of the last weeks (`sim_projects`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from collectors.demo_estate.sim_base import World

Error = tuple[str, int | None, str]

TARGETS = {
    "crm-psa": "https://psa.example.com/api/v1/projects",
    "psa-erp": "https://erp.example.com/services/rest/record/v1/timeBill",
    "erp-crm": "https://crm.example.com/services/data/v60.0/sobjects/Opportunity",
}


@dataclass(frozen=True)
class Attempt:
    """One planned run of a flow: when it starts and how it ends."""

    at: datetime
    error: Error | None = None
    payload_patch: dict[str, Any] | None = None


#: After the outage the ERP is back but drowning in the backlog for this long.
RECOVERY = timedelta(hours=3)
#: ... answering slowly (timeouts) for the first part of it, then with 429s.
SLOW_START = timedelta(minutes=45)
#: Share of ERP-bound calls (new first attempts, the backlog's retries) failing meanwhile.
RECOVERY_FAILURE_P = 0.5


@dataclass(frozen=True)
class Incidents:
    """The planted platform incidents."""

    outage_start: datetime
    outage_end: datetime

    def in_outage(self, t: datetime) -> bool:
        """Whether the ERP is down at ``t``."""
        return self.outage_start <= t < self.outage_end

    def recovering(self, t: datetime) -> bool:
        """Whether ``t`` is in the hours after the outage, while the ERP works off its backlog."""
        return self.outage_end <= t < self.outage_end + RECOVERY

    def kind(self, t: datetime) -> str:
        """How the recovering ERP fails a call at ``t``: slowly at first, then rate-limited."""
        return "ETIMEDOUT" if t < self.outage_end + SLOW_START else "HTTP_429"


def transient_error(world: World, integration: str, kind: str | None = None) -> Error:
    """A timeout, a 429 or a 503 (``kind``, else at random), with the ids and numbers real
    messages carry."""
    rng = world.rng
    if kind is None:
        kind = rng.choices(("ETIMEDOUT", "HTTP_429", "HTTP_503"), weights=(4, 3, 3))[0]
    if kind == "ETIMEDOUT":
        host = f"10.{rng.randint(1, 40)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        return kind, None, f"connect ETIMEDOUT {host}:443 after 30000 ms"
    if kind == "HTTP_429":
        return (
            kind,
            429,
            (
                f"429 Too Many Requests from {TARGETS[integration]}: limit of "
                f"{rng.choice((100, 250, 600))} calls/min exceeded, "
                f"retry after {rng.randint(2, 60)} s"
            ),
        )
    return (
        kind,
        503,
        (
            f"503 Service Unavailable from {TARGETS[integration]} (request id "
            f"{rng.getrandbits(32):08x})"
        ),
    )


def outage_error(world: World) -> Error:
    """What every ERP-bound call sees during the outage."""
    rng = world.rng
    if rng.random() < 0.5:
        return "ECONNREFUSED", None, f"connect ECONNREFUSED 10.20.1.{rng.randint(10, 19)}:443"
    return (
        "HTTP_503",
        503,
        (
            f"503 Service Unavailable from {TARGETS['psa-erp']} "
            f"(request id {rng.getrandbits(32):08x})"
        ),
    )


def plan_attempts(
    world: World,
    integration: str,
    first_at: datetime,
    incidents: Incidents,
    *,
    transient_p: float = 0.0,
) -> list[Attempt]:
    """Attempts up to the first success, with the ERP outage and its recovery.

    ``transient_p`` is the chance of a transient failure at any other time (none by default:
    see the module's docstring).
    """
    rng = world.rng
    attempts: list[Attempt] = []
    t = first_at
    erp_bound = integration in ("psa-erp", "erp-crm")
    failure_p = RECOVERY_FAILURE_P if erp_bound and incidents.recovering(t) else transient_p
    if erp_bound and incidents.in_outage(t):
        attempts.append(Attempt(t, outage_error(world)))
        retry = t + timedelta(minutes=rng.randint(15, 30))
        if incidents.in_outage(retry):
            attempts.append(Attempt(retry, outage_error(world)))
        t = incidents.outage_end + timedelta(
            minutes=rng.randint(10, 90), seconds=rng.randint(0, 59)
        )
        if rng.random() < RECOVERY_FAILURE_P:  # the backlog's retries meet the slow ERP
            attempts.append(Attempt(t, transient_error(world, integration, incidents.kind(t))))
            t += timedelta(minutes=rng.randint(5, 30), seconds=rng.randint(0, 59))
    elif failure_p > 0 and rng.random() < failure_p:
        kind = incidents.kind(t) if erp_bound and incidents.recovering(t) else None
        attempts.append(Attempt(t, transient_error(world, integration, kind)))
        t += (
            timedelta(minutes=rng.randint(1, 30))
            if rng.random() < 0.7
            else timedelta(hours=rng.randint(1, 6), minutes=rng.randint(0, 59))
        )
        if rng.random() < 0.15:
            attempts.append(Attempt(t, transient_error(world, integration)))
            t += timedelta(minutes=rng.randint(5, 90))
    attempts.append(Attempt(t))
    return attempts


def write_chain(
    world: World,
    integration: str,
    flow: str,
    record: dict[str, str],
    payload: dict[str, Any],
    attempts: list[Attempt],
) -> list[str]:
    """Write one job per attempt (same correlation id, ``retry_of`` chained); their ids."""
    rng = world.rng
    correlation = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    ids: list[str] = []
    previous: str | None = None
    for n, attempt in enumerate(attempts, start=1):
        job_id = f"job_{world.next_number('job', 100_001):08d}"
        started = attempt.at.replace(microsecond=rng.randrange(1000) * 1000)
        if attempt.error is None:
            duration = rng.randint(250, 8_000)
        elif attempt.error[0] == "ETIMEDOUT":
            duration = 30_000 + rng.randint(0, 40)
        else:
            duration = rng.randint(40, 2_500)
        finished = started + timedelta(milliseconds=duration)
        job = world.new(
            "job",
            job_id,
            started,
            id=job_id,
            integration=integration,
            flow=f"{integration}/{flow}",
            direction="outbound",
            status="running",
            attempt=n,
            retry_of=previous,
            correlation_id=correlation,
            started_at=started,
            finished_at=None,
            duration_ms=None,
            error=None,
            record=record,
            payload={**payload, **attempt.payload_patch} if attempt.payload_patch else payload,
        )
        error = None
        if attempt.error is not None:
            code, http_status, message = attempt.error
            error = {"code": code, "http_status": http_status, "message": message}
        job.update(
            finished,
            status="success" if error is None else "error",
            finished_at=finished,
            duration_ms=duration,
            error=error,
        )
        ids.append(job_id)
        previous = job_id
    return ids
