"""One deal's rows, drawn from its own seeded RNG: the deal, its project, work, invoices,
payments and credit notes with their events and links, and the sync attempts of each integration
flow, each row with the instant it becomes visible to a collector."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bench.firm import (
    CRM,
    DAY,
    ENTITIES,
    ENTITY_WEIGHTS,
    ERP,
    ERRORS,
    HOUR,
    INVOICE_STATUS,
    IPAAS,
    POST_TIME,
    PRACTICES,
    PROVISION,
    PSA,
    SPAN_SECONDS,
    START,
    A,
    Q,
    T,
)
from store.canonical import (
    Activity,
    EventObject,
    EventRow,
    LinkQualifier,
    LinkRow,
    ObjectRow,
    ObjectType,
    SyncAttemptRow,
    SyncStatus,
)


def ref(system: str, type_: ObjectType, key: str, qualifier: str) -> EventObject:
    """An event's relation to one object."""
    return EventObject(system, type_, key, qualifier)


@dataclass
class DealLog:
    """Every row of one deal, each with the instant it becomes visible."""

    rows: list[tuple[datetime, object]] = field(default_factory=list)
    seen: dict[tuple[str, str, str], datetime] = field(default_factory=dict)

    def obj(self, row: ObjectRow, at: datetime) -> None:
        self.rows.append((at, row))
        self.seen[(row.source_system, row.type, row.source_key)] = at

    def event(
        self, activity: Activity, at: datetime, system: str, key: str, refs: tuple[EventObject, ...]
    ) -> None:
        self.rows.append((at, EventRow(activity, at, system, key, refs)))

    def link(
        self,
        frm: tuple[str, ObjectType, str],
        to: tuple[str, ObjectType, str],
        qualifier: LinkQualifier,
    ) -> None:
        at = max(self.seen[(frm[0], frm[1], frm[2])], self.seen[(to[0], to[1], to[2])])
        self.rows.append((at, LinkRow(*frm, *to, qualifier, to[0])))

    def attempt(self, row: SyncAttemptRow) -> None:
        self.rows.append((row.started_at, row))


def _expo(rng: random.Random, mean_days: float, cap_days: float) -> timedelta:
    return timedelta(days=min(rng.expovariate(1 / mean_days), cap_days))


def _money(value: float) -> Decimal:
    return Decimal(f"{value:.2f}")


def _sync(
    log: DealLog,
    rng: random.Random,
    flow: tuple[str, str, str, ObjectType],
    key: str,
    at: datetime,
    fail_p: float,
) -> None:
    """One record's attempts: a first attempt, and retries until one succeeds (or it stays open)."""
    integration, name, system, type_ = flow
    trace = f"{integration}:{key}"
    when = at + timedelta(minutes=rng.uniform(1, 20))
    n = 1
    while True:
        failed = rng.random() < (fail_p if n == 1 else 0.35)
        error, signature = ERRORS[rng.randrange(len(ERRORS))] if failed else (None, None)
        log.attempt(
            SyncAttemptRow(
                IPAAS,
                f"{trace}:{n}",
                integration,
                name,
                SyncStatus.FAILED if failed else SyncStatus.SUCCESS,
                when,
                attempt_number=n,
                retry_of_key=f"{trace}:{n - 1}" if n > 1 else None,
                error_class=error,
                error_message=signature,
                error_signature=signature,
                trace_key=trace,
                duration_ms=rng.randrange(80, 4000),
                object_system=system,
                object_type=type_,
                object_key=key,
            )
        )
        if not failed or n >= 3 or rng.random() < 0.1:
            return
        n += 1
        when += timedelta(hours=rng.uniform(0.5, 30))


def deal_log(seed: int, i: int, customers: int, deals: int) -> DealLog:
    """Every row of deal `i` of `deals` (history and future alike); deals are numbered in the
    order they are won, so consecutive deals are what a collector reading in time order sees."""
    rng = random.Random(seed * 1_000_003 + i)
    log = DealLog()
    won = START + timedelta(seconds=(i + rng.random()) / deals * SPAN_SECONDS)
    entity, currency = rng.choices(ENTITIES, ENTITY_WEIGHTS)[0]
    practice = PRACTICES[rng.randrange(len(PRACTICES))]
    customer = f"Customer {rng.randrange(customers):05d}"
    dk = f"D{i:08d}"
    deal = (CRM, T.DEAL, dk)
    dims = {"customer": customer, "legal_entity": entity, "practice": practice}
    fate = rng.random()
    no_project = 0.85 <= fate < 0.87
    log.obj(
        ObjectRow(
            T.DEAL,
            CRM,
            dk,
            **dims,
            owner=f"rep{rng.randrange(200):03d}",
            currency=currency,
            amount=_money(rng.uniform(5_000, 500_000)),
            attributes={"no_project_required": no_project},
        ),
        won,
    )
    deal_ref = (ref(CRM, T.DEAL, dk, "deal"),)
    if fate >= 0.89:  # lost
        log.event(A.DEAL_LOST, won, CRM, dk, deal_ref)
        return log
    log.event(A.DEAL_WON, won, CRM, dk, deal_ref)
    if 0.87 <= fate < 0.89:  # reopened, then lost
        log.event(A.DEAL_REOPENED, won + 2 * DAY, CRM, dk, deal_ref)
        log.event(A.DEAL_LOST, won + 5 * DAY, CRM, dk, deal_ref)
        return log
    if no_project:
        return log
    bad_day = (won - START).days % 61 == 17
    _sync(log, rng, PROVISION, dk, won, 0.45 if bad_day else 0.06)
    if rng.random() < 0.01:  # stuck: the project never comes
        return log
    created = won + _expo(rng, 1.5, 40)
    pk = f"P{i:08d}"
    project = (PSA, T.PROJECT, pk)
    log.obj(
        ObjectRow(
            T.PROJECT,
            PSA,
            pk,
            **dims,
            currency=currency,
            attributes={"touchless": rng.random() < 0.7},
        ),
        created,
    )
    log.event(A.PROJECT_CREATED, created, PSA, pk, (ref(PSA, T.PROJECT, pk, "project"),))
    log.link(deal, project, Q.PROVISIONS)
    fixed_fee = rng.random() < 0.25
    rate = rng.choice((120, 150, 180, 220))
    billed: list[tuple[str, ObjectType, str]] = []
    approvals: list[datetime] = []
    for k in range(3):
        wk = f"W{i:08d}-{k}"
        logged = created + (3 * k + 2) * DAY + timedelta(hours=rng.uniform(0, 10))
        worked = (logged - timedelta(days=rng.randrange(3))).date()
        hold = not fixed_fee and rng.random() < 0.01
        approved = None if hold else logged + _expo(rng, 2, 30)
        written_off = (
            approved + 10 * DAY if approved and not fixed_fee and rng.random() < 0.03 else None
        )
        status = "on_hold" if hold else "written_off" if written_off else "approved"
        invoice_key = None
        if not fixed_fee and approved and not written_off:
            billed.append((PSA, T.WORK_ITEM, wk))
            approvals.append(approved)
            invoice_key = f"I{i:08d}"
        hours = rng.randrange(2, 40)
        log.obj(
            ObjectRow(
                T.WORK_ITEM,
                PSA,
                wk,
                currency=currency,
                amount=_money(hours * rate * rng.uniform(0.9, 1.1)),
                attributes={
                    "kind": "time",
                    "project_id": pk,
                    "billable": not fixed_fee,
                    "status": status,
                    "invoice_id": invoice_key,
                    "work_date": worked.isoformat(),
                },
            ),
            logged,
        )
        refs = (ref(PSA, T.WORK_ITEM, wk, "work_item"),)
        log.event(A.WORK_LOGGED, logged, PSA, wk, (*refs, ref(PSA, T.PROJECT, pk, "project")))
        log.link((PSA, T.WORK_ITEM, wk), project, Q.PART_OF)
        if approved:
            log.event(A.WORK_APPROVED, approved, PSA, wk, refs)
            _sync(log, rng, POST_TIME, wk, approved, 0.04)
        if written_off:
            log.event(A.WORK_WRITTEN_OFF, written_off, PSA, wk, refs)
    amount = _money(rng.uniform(8_000, 120_000))
    if fixed_fee:
        mk = f"M{i:08d}"
        accepted = created + _expo(rng, 20, 120) + 5 * DAY
        log.obj(ObjectRow(T.MILESTONE, PSA, mk, attributes={"project_id": pk}), accepted)
        log.event(
            A.MILESTONE_ACCEPTED, accepted, PSA, mk, (ref(PSA, T.MILESTONE, mk, "milestone"),)
        )
        log.link((PSA, T.MILESTONE, mk), project, Q.PART_OF)
        trigger, attrs = accepted, {"billing_type": "Fixed Fee", "milestone_id": mk}
    elif billed:
        period_end = max(approvals).date()
        trigger = datetime(period_end.year, period_end.month, period_end.day, tzinfo=UTC) + DAY
        attrs = {"billing_type": "T&M", "period_end": period_end.isoformat()}
    else:
        return log
    ik = f"I{i:08d}"
    reissue = rng.random() < 0.02
    first = _invoice(
        log,
        rng,
        ik + "-V" if reissue else ik,
        pk,
        dims,
        currency,
        amount,
        attrs,
        trigger,
        billed,
        voided=reissue,
    )
    if reissue:
        _invoice(
            log, rng, ik, pk, dims, currency, amount, attrs, first + DAY, billed, replaces=ik + "-V"
        )
    return log


def _invoice(
    log: DealLog,
    rng: random.Random,
    ik: str,
    pk: str,
    dims: dict[str, str],
    currency: str,
    amount: Decimal,
    attrs: dict[str, str],
    trigger: datetime,
    billed: list[tuple[str, ObjectType, str]],
    *,
    voided: bool = False,
    replaces: str | None = None,
) -> datetime:
    """An invoice's lifecycle, payment, credit note and status sync; returns when it ended."""
    invoice = (ERP, T.INVOICE, ik)
    held = rng.random() < 0.04  # billing held: the work waits weeks to months (aged WIP)
    created = trigger + (timedelta(days=rng.uniform(20, 150)) if held else _expo(rng, 1.5, 30))
    posted = created + _expo(rng, 0.6, 10)
    attributes = {"kind": "invoice", "project_code": pk, **attrs}
    log.obj(
        ObjectRow(
            T.INVOICE, ERP, ik, **dims, currency=currency, amount=amount, attributes=attributes
        ),
        created,
    )
    refs = (ref(ERP, T.INVOICE, ik, "invoice"),)
    log.event(A.INVOICE_CREATED, created, ERP, ik, (*refs, ref(PSA, T.PROJECT, pk, "project")))
    log.event(A.INVOICE_POSTED, posted, ERP, ik, refs)
    log.link(invoice, (PSA, T.PROJECT, pk), Q.BILLS)
    for item in billed:
        log.link(item, invoice, Q.BILLED_ON)
    if replaces:
        log.link((ERP, T.INVOICE, replaces), invoice, Q.REISSUED_AS)
    _sync(log, rng, INVOICE_STATUS, ik, posted, 0.03)
    if voided:
        at = posted + 2 * DAY
        log.event(A.INVOICE_VOIDED, at, ERP, ik, refs)
        return at
    sent = posted + timedelta(hours=rng.uniform(0, 30))
    log.event(A.INVOICE_SENT, sent, ERP, ik, refs)
    if rng.random() < 0.9:
        pay = f"PAY-{ik}"
        received = sent + timedelta(days=rng.uniform(10, 60))
        log.obj(ObjectRow(T.PAYMENT, ERP, pay, currency=currency, amount=amount), received)
        log.event(
            A.PAYMENT_RECEIVED, received, ERP, pay, (ref(ERP, T.PAYMENT, pay, "payment"), *refs)
        )
        log.link(invoice, (ERP, T.PAYMENT, pay), Q.SETTLED_BY)
    if rng.random() < 0.01:
        ck = f"C{ik}"
        at = sent + timedelta(days=rng.uniform(5, 40))
        credit = (-amount / 10).quantize(Decimal("0.01"))
        log.obj(
            ObjectRow(
                T.INVOICE,
                ERP,
                ck,
                **dims,
                currency=currency,
                amount=credit,
                attributes={"kind": "credit_note", "project_code": pk},
            ),
            at,
        )
        log.event(A.INVOICE_CREATED, at, ERP, ck, (ref(ERP, T.INVOICE, ck, "invoice"),))
        log.event(A.INVOICE_POSTED, at + HOUR, ERP, ck, (ref(ERP, T.INVOICE, ck, "invoice"),))
        log.link((ERP, T.INVOICE, ck), invoice, Q.CREDITS)
    return sent
