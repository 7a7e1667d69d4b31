"""What reaches the database (SQLite and PostgreSQL): error messages, signatures, quarantine
reasons and work-queue notes without card numbers, tokens and secrets (e-mail addresses, IBANs
and tax ids stay, for display masking per role); payloads and quarantined records with every
sensitive key and span masked."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from metrics.facts import write_and_refresh
from metrics.views.access import ANONYMOUS as ADMIN
from metrics.views.handoffs import action_history, record_action
from store.canonical import Batch, ErrorClass, QuarantineRow, SyncAttemptRow, SyncStatus
from store.masking import MASK
from store.signatures import signature
from store.tables import Quarantine, SyncAttempt

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
CARD = "4111 1111 1111 1111"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzZW50aW5lbCJ9.c2VudGluZWwtc2ln"
IBAN = "DE89 3704 0044 0532 0130 00"
EMAIL = "ann.owner@firm.example"
VAT = "DE136695976"
MESSAGE = (
    f"Invoice push for {EMAIL} failed: card {CARD} declined; request had "
    f"Authorization: Bearer {TOKEN}; refund to {IBAN}, VAT {VAT}; api_key=k-7781"
)
PAYLOAD = {
    "headers": [["Authorization", f"Bearer {TOKEN}"], ["X-Api-Key", "k"], ["Accept", "json"]],
    "body": {
        "customer": {
            "taxNumber": VAT,
            "accountNo": "0532013000",
            "sortCode": "40-47-84",
            "contact": {"e-mail": EMAIL},
            "name": "Acme GmbH",
        },
        "payment": {"card_number": CARD, "cvv": "123", "creditCard": {"pan": CARD}},
        "credentials": {"pw": "hunter2"},
        "ust_idnr": VAT,
        "ein": "12-3456789",
        "comment": f"call {EMAIL} about {IBAN}",
        "amount": 1200,
    },
}


def attempt(message: str, payload: dict[str, object]) -> SyncAttemptRow:
    return SyncAttemptRow(
        source_system="ipaas",
        source_key="job-1",
        integration="erp-billing",
        flow="invoice",
        status=SyncStatus.FAILED,
        started_at=T0,
        error_class=ErrorClass.VALIDATION,
        error_message=message,
        error_signature=signature(message),
        trace_key="corr-1",
        payload=payload,
    )


def test_a_failed_attempt_is_stored_without_cards_and_tokens_but_with_what_roles_may_see(
    engine: Engine,
) -> None:
    write_and_refresh(engine, Batch(sync_attempts=[attempt(MESSAGE, PAYLOAD)]))
    with Session(engine) as s:
        stored = s.scalars(select(SyncAttempt)).one()
    message = stored.error_message or ""
    assert CARD not in message and "4111" not in message
    assert TOKEN not in message and "k-7781" not in message
    assert EMAIL in message and IBAN in message and VAT in message
    assert message == (
        f"Invoice push for {EMAIL} failed: card {MASK} declined; request had "
        f"Authorization: Bearer {MASK}; refund to {IBAN}, VAT {VAT}; api_key={MASK}"
    )
    assert TOKEN[:20] not in (stored.error_signature or "")
    assert stored.payload == {
        "headers": [["Authorization", MASK], ["X-Api-Key", MASK], ["Accept", "json"]],
        "body": {
            "customer": {
                "taxNumber": MASK,
                "accountNo": MASK,
                "sortCode": MASK,
                "contact": {"e-mail": MASK},
                "name": "Acme GmbH",
            },
            "payment": {"card_number": MASK, "cvv": MASK, "creditCard": MASK},
            "credentials": MASK,
            "ust_idnr": MASK,
            "ein": MASK,
            "comment": f"call {MASK} about {MASK}",
            "amount": 1200,
        },
    }


def test_the_same_attempt_delivered_again_is_stored_once_and_unchanged(engine: Engine) -> None:
    first = write_and_refresh(engine, Batch(sync_attempts=[attempt(MESSAGE, PAYLOAD)]))
    again = write_and_refresh(engine, Batch(sync_attempts=[attempt(MESSAGE, PAYLOAD)]))
    assert (first.sync_attempts, again.sync_attempts) == (1, 0)


def test_quarantined_records_lose_cards_tokens_and_sensitive_fields(engine: Engine) -> None:
    raw = {
        "Id": "006Q",
        "Amount": "abc",
        "Email": EMAIL,
        "note": f"card {CARD}",
        "headers": [["Cookie", "sid=1"]],
    }
    reason = f"Amount is not a number (card {CARD}, Bearer {TOKEN}, owner {EMAIL})"
    write_and_refresh(
        engine, Batch(quarantined=[QuarantineRow("crm", "deals", reason, raw, "006Q")])
    )
    with Session(engine) as s:
        stored = s.scalars(select(Quarantine)).one()
    assert stored.reason == f"Amount is not a number (card {MASK}, Bearer {MASK}, owner {EMAIL})"
    assert json.loads(stored.raw) == {
        "Id": "006Q",
        "Amount": "abc",
        "Email": MASK,
        "note": f"card {MASK}",
        "headers": [["Cookie", MASK]],
    }


def test_a_work_queue_note_is_stored_without_cards_and_tokens(engine: Engine) -> None:
    note = f"Customer read card {CARD} on the phone; token=abc123; write to {EMAIL} ({IBAN})"
    record_action(
        ADMIN,
        engine,
        case_type="deal",
        case_id=7,
        case_key="006A",
        action="note",
        actor="pmo@firm.example",
        note=note,
        now=T0,
    )
    stored = action_history(ADMIN, engine, "deal", 7)["note"].tolist()  # the admin: as stored
    assert stored == [
        f"Customer read card {MASK} on the phone; token={MASK}; write to {EMAIL} ({IBAN})"
    ]
