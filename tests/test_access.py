"""Roles from claims, the pages each role opens, practice scoping, masking, the audit log and
whether the dashboard may start."""

from __future__ import annotations

import io
import os
import stat
import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from foundation import settings as settings_module
from foundation.settings import AuthSettings, Settings
from metrics.kpis.common import Filters
from metrics.views import audit
from metrics.views.access import ANONYMOUS, PAGES_BY_ROLE, Access, access_from_claims, mask
from metrics.views.access import ANONYMOUS as ADMIN
from metrics.views.export import csv_bytes, excel_bytes
from metrics.views.handoffs import record_action
from store.masking import MASK
from throughline.cli import main
from throughline.signin import redirect_uri, refusal, write_streamlit_secrets

AUTH = AuthSettings(
    server_metadata_url="http://127.0.0.1:1/.well-known/openid-configuration",
    client_id="throughline",
    roles={"finance-lead": "cfo", "pmo": "pmo", "support": "support", "it-admin": "admin"},
)


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"roles": ["finance-lead"], "email": "ann@firm.example"}, ("cfo", "ann@firm.example")),
        ({"roles": "support", "sub": "u-2"}, ("support", "u-2")),
        ({"roles": "pmo it-admin", "name": "Bo"}, ("admin", "Bo")),  # the most capable role
        ({"roles": ["viewer"], "sub": "u-3"}, None),  # no mapped role: the no-access page
        ({"sub": "u-4"}, None),
    ],
)
def test_the_role_comes_from_the_configured_claim(
    claims: dict[str, Any], expected: tuple[str, str] | None
) -> None:
    found = access_from_claims(claims, AUTH)
    assert (found.role, found.user) == expected if found else expected is None


def test_a_pmo_is_limited_to_the_practices_of_a_claim_and_others_are_not() -> None:
    pmo = access_from_claims({"roles": "pmo", "practices": ["Cloud", "Data"], "sub": "p"}, AUTH)
    assert pmo is not None and pmo.practices == ("Cloud", "Data")
    cfo = access_from_claims({"roles": "finance-lead", "practices": ["Cloud"], "sub": "c"}, AUTH)
    assert cfo is not None and cfo.practices is None
    chosen = Filters(date(2026, 1, 1), None, ("UK",), ("Data", "Strategy"))
    assert pmo.scope(chosen).practices == ("Data",)  # what they asked for, within their own
    assert pmo.scope(Filters()).practices == ("Cloud", "Data")  # nothing chosen: their own
    nobody = Access("pmo", "x", practices=()).scope(Filters())
    assert nobody.practices == () and nobody.practices_limited  # none: nothing
    assert cfo.scope(chosen) == chosen


def test_a_pmo_without_a_practices_claim_sees_no_practice_unless_a_setting_opens_them() -> None:
    pmo = access_from_claims({"roles": "pmo", "sub": "p"}, AUTH)
    assert pmo is not None and pmo.practices == () and not pmo.allows("Cloud")
    opened = AUTH.model_copy(update={"pmo_without_practices": "all"})
    pmo = access_from_claims({"roles": "pmo", "sub": "p"}, opened)
    assert pmo is not None and pmo.practices is None and pmo.allows("Cloud")


def test_each_role_opens_its_pages_and_the_admin_every_one() -> None:
    assert PAGES_BY_ROLE["pmo"] == {"overview", "handoffs", "trace", "slos"}
    assert not Access("pmo", "p").can_open("sync")
    assert not Access("cfo", "c").can_open("collectors")
    assert Access("support", "s").can_open("sync") and not Access("support", "s").can_open("audit")
    assert ANONYMOUS.can_open("audit") and not ANONYMOUS.signed_in


@dataclass(frozen=True)
class Lineage:
    attempt: dict[str, Any]
    payload: dict[str, Any] | None
    trail: pd.DataFrame


def sample() -> Lineage:
    trail = pd.DataFrame(
        {
            "owner_email": ["ann@firm.example", None],
            "customer_tax_id": ["DE811907980", ""],
            "iban": ["DE89370400440532013000", None],
            "error_message": ["mail bo@firm.example about it", "timeout"],
            "raw": ['{"vat": "x"}', None],
            "amount": [10.0, 20.0],
        }
    )
    return Lineage({"owner": "ann@firm.example", "tax_id": "X1"}, {"id": "006"}, trail)


@pytest.mark.parametrize(
    ("role", "payload", "email", "tax_id", "bank"),
    [
        ("admin", True, True, True, True),
        ("support", True, False, False, False),
        ("cfo", False, True, True, True),
        ("pmo", False, True, False, False),
    ],
)
def test_masking_follows_the_role(
    role: Any, payload: bool, email: bool, tax_id: bool, bank: bool
) -> None:
    shown = mask(sample(), Access(role, "x"))
    trail = shown.trail
    assert (shown.payload == {"id": "006"}) is payload
    assert (trail["raw"].iloc[0] == '{"vat": "x"}') is payload
    assert (trail["owner_email"].iloc[0] == "ann@firm.example") is email
    assert ("bo@firm.example" in trail["error_message"].iloc[0]) is email
    assert (shown.attempt["owner"] == "ann@firm.example") is email
    assert (trail["customer_tax_id"].iloc[0] == "DE811907980") is tax_id
    assert (shown.attempt["tax_id"] == "X1") is tax_id
    assert (trail["iban"].iloc[0] == "DE89370400440532013000") is bank
    assert trail["amount"].tolist() == [10.0, 20.0]
    if not tax_id:  # empty values stay empty; masked ones are the mask
        assert trail["customer_tax_id"].tolist() == [MASK, ""]


def test_masked_values_are_what_the_csv_and_excel_exports_hold() -> None:
    trail = mask(sample(), Access("pmo", "p")).trail
    text = csv_bytes(trail).decode("utf-8-sig")
    assert "DE811907980" not in text and "DE89370400440532013000" not in text
    assert "ann@firm.example" in text  # the PMO sees owners' addresses
    book = openpyxl.load_workbook(io.BytesIO(excel_bytes(trail, "trail")))
    cells = {str(c.value) for row in book.active.iter_rows() for c in row}
    assert MASK in cells and not {"DE811907980", "DE89370400440532013000"} & cells


def test_the_dashboard_refuses_to_start_without_sign_in_unless_allowed() -> None:
    assert "refusing to serve" in (refusal(Settings()) or "")
    assert refusal(Settings(demo_mode=True)) is None
    assert refusal(Settings(auth=AuthSettings(allow_anonymous=True))) is None
    assert "client secret is missing" in (refusal(Settings(auth=AUTH)) or "")
    ready = Settings(auth=AUTH, secrets={"oidc_client_secret": SecretStr("s3cr3t")})
    assert refusal(ready) is None


def test_streamlit_gets_its_auth_secrets_in_a_private_file(tmp_path: Path) -> None:
    settings = Settings(
        auth=AUTH, dashboard_port=8600, secrets={"oidc_client_secret": SecretStr('s"3\\c')}
    )
    path = write_streamlit_secrets(settings, tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    section = tomllib.loads(path.read_text(encoding="utf-8"))["auth"]
    assert section["client_secret"] == 's"3\\c'
    assert (
        section["redirect_uri"]
        == redirect_uri(settings)
        == ("http://localhost:8600/oauth2callback")
    )
    assert section["server_metadata_url"] == AUTH.server_metadata_url
    assert len(section["cookie_secret"]) >= 32


def test_sign_ins_exports_and_work_queue_actions_are_audited(engine: Engine) -> None:
    at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    audit.record(engine, "ann@firm.example", "cfo", "sign_in", "signed in", subject="u-1", at=at)
    audit.record(engine, "ann@firm.example", "cfo", "export", "CSV export of queue (3 rows)")
    pmo = Access("pmo", "pmo@firm.example", subject="u-2")
    record_action(
        pmo,
        engine,
        case_type="deal",
        case_id=7,
        case_key="006A",
        action="note",
        actor="someone else",
        note="<script>alert(1)</script>",
    )
    log = audit.audit_log(ADMIN, engine)
    assert list(log["action"]) == ["work_queue", "export", "sign_in"]
    assert log["detail"].iloc[0] == "note deal 006A"
    assert list(log["subject"].fillna("")) == ["u-2", "", "u-1"]
    assert log["actor"].iloc[0] == "pmo@firm.example", "a signed-in actor is never typed"
    assert log["role"].iloc[0] == "pmo" and log["at"].iloc[2] == pd.Timestamp(at)
    assert audit.logged(engine, "u-1", "sign_in", "signed in")
    assert not audit.logged(engine, "u-3", "sign_in", "signed in")


def test_throughline_serve_refuses_to_start_without_sign_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [k for k in os.environ if k.startswith("THROUGHLINE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("THROUGHLINE_DATABASE_URL", f"sqlite:///{tmp_path}/store.db")
    settings_module.get_settings.cache_clear()
    try:
        assert main(["serve"]) == 2
    finally:
        settings_module.get_settings.cache_clear()
    assert "refusing to serve finance data without sign-in" in capsys.readouterr().err
    assert not (tmp_path / "store.db").exists()  # refused before touching anything
