"""Payload scrubbing before storage: sensitive keys matched case-, separator- and
nesting-insensitively against `KEY_WORDS`, header lists, and harmless keys left alone."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store.masking import KEY_WORDS, MASK, MAX_DEPTH, key_kind, mask_sensitive
from store.masking.keys import label_kind

#: The keys a security review found surviving storage, and the rest of the usual suspects.
SENSITIVE_KEYS = [
    "pwd",
    "credentials.pw",
    "taxNumber",
    "ust_idnr",
    "UStIdNr",
    "ein",
    "card_number",
    "cvv",
    "accountNo",
    "sortCode",
    "creditCard",
    "password",
    "secret",
    "token",
    "apiKey",
    "authorization",
    "cookie",
    "iban",
    "bic",
    "vat",
    "email",
    "X-Api-Key",
    "access_token",
    "client-secret",
    "Set-Cookie",
    "billing.iban",
    "customer_tax_id",
    "VATNumber",
    "e-mail",
    "cvv2",
    "routingNumber",
    "PASSWORD",
    "private_key",
    "sessionId",
    "Proxy-Authorization",
]
HARMLESS_KEYS = [
    "weinstein",
    "protein",
    "pwm",
    "tokenizer_version",
    "max_tokens",
    "customer",
    "name",
    "amount",
    "deal_id",
    "owner",
    "spin",
    "passport",
    "basic_plan",
    "private",
    "bicycle",
    "company",
    "tinted",
    "pandas",
    "signal",
    "keyboard",
    "key",
    "account",
    "mailbox",
]


@pytest.mark.parametrize("key", SENSITIVE_KEYS)
def test_sensitive_keys_lose_their_value_before_storage(key: str) -> None:
    stored = mask_sensitive({key: "s3nsitive", "deal": "D-1"})
    assert stored == {key: MASK, "deal": "D-1"}


@pytest.mark.parametrize("key", HARMLESS_KEYS)
def test_keys_that_merely_contain_the_letters_keep_their_value(key: str) -> None:
    assert key_kind(key) is None
    assert mask_sensitive({key: "kept 12"}) == {key: "kept 12"}


def test_header_lists_lose_the_values_of_sensitive_headers() -> None:
    payload = {
        "headers": [["Authorization", "Bearer abc"], ["X-Api-Key", "k"], ["Accept", "json"]],
        "request": {
            "headers": [
                {"name": "Authorization", "value": "Basic Zm9v"},
                {"name": "Content-Type", "value": "application/json"},
                {"Key": "cookie", "Value": "sid=1"},
            ]
        },
    }
    assert mask_sensitive(payload) == {
        "headers": [["Authorization", MASK], ["X-Api-Key", MASK], ["Accept", "json"]],
        "request": {
            "headers": [
                {"name": "Authorization", "value": MASK},
                {"name": "Content-Type", "value": "application/json"},
                {"Key": "cookie", "Value": MASK},
            ]
        },
    }


def test_a_sensitive_key_hides_a_whole_nested_value_and_empty_values_stay_empty() -> None:
    payload = {
        "credentials": {"user": "u", "pw": "p"},
        "auth": {"pw": "p", "user": "u"},
        "token": "",
        "iban": None,
        "pin": 0,
    }
    assert mask_sensitive(payload) == {
        "credentials": MASK,
        "auth": {"pw": MASK, "user": "u"},
        "token": "",
        "iban": None,
        "pin": MASK,
    }


def test_strings_under_harmless_keys_lose_every_sensitive_span() -> None:
    payload = {
        "note": "ask ann@firm.example, IBAN DE89 3704 0044 0532 0130 00, VAT "
        "DE136695976, card 4111111111111111, Bearer tok3n-42",
        "n": 3,
    }
    assert mask_sensitive(payload) == {
        "note": "ask ***, IBAN ***, VAT ***, card ***, Bearer ***",
        "n": 3,
    }


def test_nesting_deeper_than_the_limit_is_masked_whole() -> None:
    deep: Any = "leaf"
    for _ in range(MAX_DEPTH + 5):
        deep = {"level": deep}
    stored = mask_sensitive(deep)
    for _ in range(MAX_DEPTH + 1):
        stored = stored["level"]
    assert stored == MASK


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        ("password", "secret"),
        ("new password", "secret"),
        ("newPassword", "secret"),
        ("api key", "secret"),
        ("X-Api-Key", "secret"),
        ("card number", "card"),
        ("password reset link", None),
        ("tokenizer_version", None),
        ("mypassword", None),
    ],
)
def test_a_label_in_text_counts_only_when_it_ends_with_a_key_word(
    label: str, kind: str | None
) -> None:
    assert label_kind(label) == kind


# --- generated ----------------------------------------------------------------------------


def styled(word: str, style: str) -> str:
    """A key word (maybe several words) written the way APIs write keys."""
    parts = word.split()
    if style == "camel":
        return parts[0] + "".join(p.capitalize() for p in parts[1:])
    if style == "pascal":
        return "".join(p.capitalize() for p in parts)
    if style == "upper_snake":
        return "_".join(parts).upper()
    return {"snake": "_", "kebab": "-", "dotted": ".", "joined": ""}[style].join(parts)


STYLES = st.sampled_from(["camel", "pascal", "upper_snake", "snake", "kebab", "dotted", "joined"])
HARMLESS = st.sampled_from(["customer", "data", "fields", "attributes", "billing", "items"])


@st.composite
def nested_payloads(draw: st.DrawFn) -> tuple[Any, list[Any], str]:
    """A payload with one sensitive key (a `KEY_WORDS` entry in a random style, maybe under a
    harmless prefix) nested in random dicts and lists; the path to it and the key."""
    word = draw(st.sampled_from(sorted(KEY_WORDS)))
    key = styled(word, draw(STYLES))
    if draw(st.booleans()):
        key = (
            draw(HARMLESS) + draw(st.sampled_from(["_", ".", "-", ""])) + key[:1].upper() + key[1:]
        )
    value: Any = {key: "s3nsitive", "kept": "plain"}
    path: list[Any] = [key]
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.booleans()):
            name = draw(HARMLESS)
            value, path = {name: value, "other": 1}, [name, *path]
        else:
            value, path = ["x", value], [1, *path]
    return value, path, key


@settings(max_examples=400, deadline=None)
@given(nested_payloads())
def test_a_key_word_in_any_style_at_any_depth_is_masked(case: tuple[Any, list[Any], str]) -> None:
    payload, path, key = case
    stored = mask_sensitive(payload)
    holder = stored
    for step in path[:-1]:
        holder = holder[step]
    assert holder[key] == MASK, key
    assert holder["kept"] == "plain"


def test_every_key_word_is_found_in_every_style() -> None:
    styles = ["camel", "pascal", "upper_snake", "snake", "kebab", "dotted", "joined"]
    missed = [
        (word, styled(word, style))
        for word in KEY_WORDS
        for style in styles
        if key_kind(styled(word, style)) != KEY_WORDS[word]
    ]
    assert missed == []
