"""Error classes and signatures of failed sync attempts: a server error is not a connection
error, and an "invalid e-mail" error is one signature whatever the address, malformed or not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from store.canonical import ErrorClass
from store.signatures import classify, signature

TEMPLATES = [
    "Contact {} has an invalid e-mail address",
    "Invalid email '{}' for customer C-0042",
    "422 Unprocessable Entity: email {} rejected by ERP (record 8812)",
    'Validation failed: "email": "{}" is not an e-mail',
]
MALFORMED = [
    "bob@@example",
    "x@y",
    '"a b"@c.d',
    "@example.com",
    "bob@example..com",
    "first.last+tag@sub.example.co.uk",
    "UPPER@EXAMPLE.ORG",
    "a@b@c.d",
    "x@",
]


@pytest.mark.parametrize("template", TEMPLATES)
def test_malformed_addresses_do_not_split_one_error_into_several_signatures(
    template: str,
) -> None:
    expected = signature(template.format("bob@example.com"))
    assert expected is not None and ("<email>" in expected or "<value>" in expected)
    assert {signature(template.format(address)) for address in MALFORMED} == {expected}


LOCAL = st.text("abcXYZ019._+%-", min_size=1, max_size=12)
QUOTED = st.text("abc XYZ019._-", max_size=10).map(lambda t: f'"{t}"')
DOMAIN = st.text("abcxyz019.-@", max_size=15)


@given(
    local=st.one_of(LOCAL, QUOTED),
    ats=st.integers(1, 3),
    domain=DOMAIN,
    template=st.sampled_from(TEMPLATES),
)
def test_any_e_mail_like_token_is_one_placeholder(
    local: str, ats: int, domain: str, template: str
) -> None:
    token = f"{local}{'@' * ats}{domain}"
    assert signature(template.format(token)) == signature(template.format("bob@example.com"))


@given(
    label=st.text("abcxyz019-", min_size=1, max_size=10),
    tld=st.text("abcxyz", min_size=2, max_size=4),
    template=st.sampled_from(TEMPLATES),
)
def test_an_address_without_its_local_part_is_one_too(label: str, tld: str, template: str) -> None:
    token = f"@{label}.{tld}"
    assert signature(template.format(token)) == signature(template.format("bob@example.com"))


def test_a_mention_or_a_lone_at_sign_is_not_an_address() -> None:
    assert signature("ping @oncall about it") == "ping @oncall about it"
    assert signature("5 @ 10 per second") == "<n> @ <n> per second"


@pytest.mark.parametrize(
    ("code", "status", "message", "expected"),
    [
        (None, 500, "Internal Server Error", ErrorClass.SERVER),
        (None, 502, "Bad Gateway", ErrorClass.SERVER),
        ("HTTP_503", 503, "503 Service Unavailable from ERP", ErrorClass.SERVER),
        (None, None, "The service answered: 503 Service Unavailable", ErrorClass.SERVER),
        (None, None, "upstream returned Internal Server Error", ErrorClass.SERVER),
        (None, 504, "Gateway Timeout", ErrorClass.TIMEOUT),
        ("ECONNREFUSED", None, "connect ECONNREFUSED 10.0.4.12:443", ErrorClass.CONNECTION),
        (None, None, "socket hang up", ErrorClass.CONNECTION),
        (None, None, "getaddrinfo ENOTFOUND erp.example.com", ErrorClass.CONNECTION),
        ("ECONNRESET", 503, "read ECONNRESET", ErrorClass.CONNECTION),  # the code decides first
        (None, 429, "Too Many Requests", ErrorClass.RATE_LIMIT),
        (None, 422, "email is not valid", ErrorClass.VALIDATION),
    ],
)
def test_http_5xx_is_a_server_error_apart_from_connection_errors(
    code: str | None, status: int | None, message: str, expected: ErrorClass
) -> None:
    assert classify(code, status, message) is expected


@given(st.integers(500, 599).filter(lambda s: s != 504))
def test_every_5xx_but_504_is_a_server_error(status: int) -> None:
    assert classify(None, status, "anything") is ErrorClass.SERVER
