"""Free-text masking: sentinel values of every kind, what must stay, the countries' tax id
formats, and generated IBANs, card numbers and e-mail addresses inside arbitrary text."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import iban as stdnum_iban
from stdnum import luhn as stdnum_luhn

from store.masking import MASK, TEXT_KINDS, mask_free_text, scrub_for_storage
from store.masking.numbers import BBAN_LAYOUTS, card_spans, iban_spans
from store.masking.tax_ids import EU_MEMBERS, tax_id_spans

IBANS = [
    "DE89370400440532013000",
    "DE89 3704 0044 0532 0130 00",
    "de89 3704 0044 0532 0130 00",
    "GB82 WEST 1234 5698 7654 32",
    "FR1420041010050500013M02606",
    "NL91ABNA0417164300",
]
CARDS = [
    "4111111111111111",
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "5555 5555 5555 4444",
    "3782 822463 10005",  # American Express, 4-6-5
    "6011000990139424",
    "4222222222222",  # 13 digits
]
SECRETS = [
    ("Authorization: Bearer abc.def-123", "abc.def-123"),
    ("authorization=Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
    ("called with Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", "eyJhbGciOiJIUzI1NiJ9"),
    ("GET /v1?api_key=k-1234&page=2", "k-1234"),
    ("token=xyz789", "xyz789"),
    ("password: hunter2", "hunter2"),
    ('{"client_secret": "s3cr3t value"}', "s3cr3t value"),
    ("secret: plain", "plain"),
    ("X-Api-Key: key42", "key42"),
    ("newPassword=correcthorse", "correcthorse"),
    ("credentials.pw=letmein", "letmein"),
    ("Cookie: session=abc; csrftoken=def", "session=abc; csrftoken=def"),
    ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc failed", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("ghp_16C7e42F292c6912E7710c838347Ae178B4a", "ghp_16C7e42F292c6912E7710c838347Ae178B4a"),
    ("slack xoxb-1234567890-abcdefghij", "xoxb-1234567890-abcdefghij"),
    ("aws AKIAIOSFODNN7EXAMPLE denied", "AKIAIOSFODNN7EXAMPLE"),
    ("hubspot pat-na1-11111111-2222-3333-4444-555555555555", "pat-na1-11111111-2222"),
    ("db postgres://app:s3cret@db.internal/prod", "s3cret"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow==\n-----END RSA PRIVATE KEY----- ok", "MIIEow"),
    ("cvv: 123", "123"),
]
#: Valid VAT numbers of every EU member state and GB (python-stdnum's documented examples),
#: each with a twin whose check digit is wrong.
VAT_IDS = {
    "ATU13585627": "ATU13585626",
    "BE0403019261": "BE0403019262",
    "BG175074752": "BG175074751",
    "CY10259033P": "CY10259033Z",
    "CZ25123891": "CZ25123890",
    "DE136695976": "DE136695978",
    "DK13585628": "DK13585627",
    "EE100594102": "EE100594103",
    "EL094259216": "EL094259217",
    "ESB64717838": "ESB64717839",
    "FI20774740": "FI20774741",
    "FR61954506077": "FR61954506078",
    "HR33392005961": "HR33392005962",
    "HU12892312": "HU12892313",
    "IE6433435F": "IE6433435E",
    "IT00743110157": "IT00743110158",
    "LT100001919017": "LT100001919018",
    "LU15027442": "LU15027443",
    "LV40003521600": "LV40003521601",
    "MT11679112": "MT11679113",
    "NL004495445B01": "NL004495446B01",
    "PL8567346215": "PL8567346216",
    "PT501964843": "PT501964842",
    "RO18547290": "RO18547291",
    "SE123456789701": "SE123456789101",
    "SI50223054": "SI50223055",
    "SK2022749619": "SK2022749618",
    "GB980780684": "GB802311781",
    "XI980780684": "XI802311781",
}
ALL_EU_AND_GB = ["DE", "GB"]


def masked_everything(text: str) -> str:
    return mask_free_text(text, TEXT_KINDS, ["US", "GB", "DE"])


@pytest.mark.parametrize("iban", IBANS)
def test_ibans_are_masked_for_roles_without_bank_details_and_kept_for_the_others(
    iban: str,
) -> None:
    text = f"Refund to {iban}, please."
    assert mask_free_text(text, ["bank"]) == f"Refund to {MASK}, please."
    assert mask_free_text(text, ["email", "tax_id"]) == text
    assert scrub_for_storage(text) == text  # stored, for finance to read


@pytest.mark.parametrize("card", CARDS)
def test_card_numbers_are_removed_before_storage_and_always_hidden(card: str) -> None:
    text = f"card {card} exp 12/26"
    assert scrub_for_storage(text) == f"card {MASK} exp 12/26"
    assert mask_free_text(text, []) == f"card {MASK} exp 12/26"


@pytest.mark.parametrize(("text", "secret"), SECRETS)
def test_tokens_keys_and_passwords_are_removed_before_storage(text: str, secret: str) -> None:
    scrubbed = scrub_for_storage(text)
    assert secret not in scrubbed and MASK in scrubbed
    assert mask_free_text(text, []) == scrubbed


def test_a_secret_label_keeps_its_name_and_loses_only_its_value() -> None:
    text = 'POST failed: {"password": "hunter2", "user": "ann"} Authorization: Bearer tok3n'
    assert scrub_for_storage(text) == (
        'POST failed: {"password": "***", "user": "ann"} Authorization: Bearer ***'
    )


@pytest.mark.parametrize(
    "text",
    [
        "tokenizer_version: 3",
        "password reset link: https://firm.example/reset",
        "Bearer authentication failed",
        "max_tokens=4096",
        "invoice 1704067200000 (epoch milliseconds)",
        "order 4111111111111112 is not a card: Luhn fails",
        "id 1234567890123452 starts with 1",
        "IBAN DE89370400440532013001 has a wrong check digit",
        "VAT DE123456789 has a wrong check digit",
        "ein 123456789 (German: one)",
        "call 555-1234567 or 49-1234567",
        "protein weinstein pwm",
        "the 2024-03-01 invoice INV-2024-0042 for 1,234.56 EUR",
    ],
)
def test_harmless_text_is_left_as_it_is(text: str) -> None:
    assert masked_everything(text) == text


def test_the_vat_examples_cover_every_eu_member_state_and_gb() -> None:
    prefixes = {"GR" if number.startswith("EL") else number[:2] for number in VAT_IDS}
    assert EU_MEMBERS | {"GB", "XI"} == prefixes


@pytest.mark.parametrize(("valid", "wrong"), VAT_IDS.items())
def test_vat_numbers_of_every_eu_state_and_gb_are_masked_when_their_check_digits_hold(
    valid: str, wrong: str
) -> None:
    spaced = f"{valid[:2]} {valid[2:5]} {valid[5:]}"
    for shown in (valid, spaced, valid.lower()):
        text = f"Customer VAT {shown}; net 30"
        assert mask_free_text(text, ["tax_id"], ALL_EU_AND_GB) == f"Customer VAT {MASK}; net 30"
    assert list(tax_id_spans(f"VAT {wrong}", ALL_EU_AND_GB)) == []


@pytest.mark.parametrize(
    ("countries", "masked"),
    [
        (["US"], {"EIN 12-3456789", "EIN: 123456789"}),
        (["GB"], {"GB 980 7806 84"}),
        (["FR"], {"DE136695976", "IE6433435F"}),  # any EU state brings every member's VAT
        (
            ["DE", "US", "GB"],
            {"EIN 12-3456789", "EIN: 123456789", "GB 980 7806 84", "DE136695976", "IE6433435F"},
        ),
        (["CH"], set()),
    ],
)
def test_tax_id_formats_follow_the_legal_entities_countries(
    countries: list[str], masked: set[str]
) -> None:
    ids = ["EIN 12-3456789", "EIN: 123456789", "GB 980 7806 84", "DE136695976", "IE6433435F"]
    shown = mask_free_text(" | ".join(ids), ["tax_id"], countries).split(" | ")
    assert {i for i, s in zip(ids, shown, strict=True) if s != i} == masked
    assert all(
        s in (i, MASK, "EIN " + MASK, "EIN: " + MASK) for i, s in zip(ids, shown, strict=True)
    )


def test_every_kind_at_once_leaves_only_what_the_role_may_see() -> None:
    text = (
        "Sync of deal 42 for ann@firm.example failed: card 4111 1111 1111 1111, "
        "Authorization: Bearer tok-9f8e7d, IBAN DE89 3704 0044 0532 0130 00, VAT DE136695976"
    )
    assert mask_free_text(text, ["email"]) == (
        "Sync of deal 42 for *** failed: card ***, Authorization: Bearer ***, "
        "IBAN DE89 3704 0044 0532 0130 00, VAT DE136695976"
    )
    assert masked_everything(text) == (
        "Sync of deal 42 for *** failed: card ***, Authorization: Bearer ***, IBAN ***, VAT ***"
    )


def test_addresses_glued_together_are_all_masked() -> None:
    for text in ("a@b.c+d@e.f", "x@y.com.z@w.de", "u@v.de@w.de", "p.q@r.s,t@u.v"):
        assert "@" not in mask_free_text(text, ["email"]), text


# --- generated ---------------------------------------------------------------------------

LAYOUT_CHARS = {
    "n": string.digits,
    "a": string.ascii_uppercase,
    "c": string.ascii_uppercase + string.digits,
}


@st.composite
def valid_ibans(draw: st.DrawFn) -> str:
    """A random IBAN of a registered country: BBAN by the registry layout, check digits by
    python-stdnum (independent of the detector's own mod-97)."""
    country = draw(st.sampled_from(sorted(BBAN_LAYOUTS)))
    layout = BBAN_LAYOUTS[country][1].pattern  # e.g. [A-Z]{4}[0-9]{6}[0-9]{8}
    bban = ""
    for cls, n in _parts(layout):
        bban += draw(st.text(LAYOUT_CHARS[cls], min_size=n, max_size=n))
    return country + stdnum_iban.calc_check_digits(country + "00" + bban) + bban


def _parts(layout: str) -> list[tuple[str, int]]:
    kinds = {"[0-9]": "n", "[A-Z]": "a", "[A-Z0-9]": "c"}
    out = []
    for part in layout.split("}")[:-1]:
        cls, n = part.split("{")
        out.append((kinds[cls], int(n)))
    return out


def printed(iban: str, grouped: bool, lower: bool) -> str:
    text = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)) if grouped else iban
    return text.lower() if lower else text


SURROUNDING = st.text(string.ascii_letters + " .,;:!?()'\"\n", max_size=30)


@settings(max_examples=300, deadline=None)
@given(valid_ibans(), st.booleans(), st.booleans(), SURROUNDING, SURROUNDING)
def test_valid_ibans_are_always_found(
    iban: str, grouped: bool, lower: bool, before: str, after: str
) -> None:
    shown = printed(iban, grouped, lower)
    text = f"{before} {shown} {after}"
    assert shown not in mask_free_text(text, ["bank"])
    assert shown in scrub_for_storage(text)  # kept in storage: never taken for a card


@settings(max_examples=300, deadline=None)
@given(valid_ibans(), st.data(), st.booleans())
def test_an_iban_with_one_digit_changed_is_not_an_iban(
    iban: str, data: st.DataObject, grouped: bool
) -> None:
    positions = [i for i, c in enumerate(iban) if c.isdigit() and i >= 2]
    at = data.draw(st.sampled_from(positions))
    other = data.draw(st.sampled_from([d for d in string.digits if d != iban[at]]))
    broken = iban[:at] + other + iban[at + 1 :]
    assert list(iban_spans(f"pay {printed(broken, grouped, False)} now")) == []


@st.composite
def luhn_card_numbers(draw: st.DrawFn) -> str:
    """A Luhn-valid card number of 13–19 digits starting 2–6, printed unbroken or in groups of
    3 or more digits joined by random spaces and dashes."""
    length = draw(st.integers(13, 19))
    body = draw(st.sampled_from("23456")) + draw(
        st.text(string.digits, min_size=length - 2, max_size=length - 2)
    )
    digits = body + stdnum_luhn.calc_check_digit(body)
    cuts: list[int] = []
    at = 0
    while draw(st.booleans()) and length - at >= 6:
        at = draw(st.integers(at + 3, length - 3))
        cuts.append(at)
    out = ""
    for a, b in zip([0, *cuts], [*cuts, length], strict=True):
        out += (draw(st.sampled_from(" -")) if a else "") + digits[a:b]
    return out


NO_DIGITS = st.text(st.characters(blacklist_categories=["Nd"]), max_size=40)


@settings(max_examples=400, deadline=None)
@given(luhn_card_numbers(), NO_DIGITS, NO_DIGITS)
def test_luhn_valid_card_numbers_are_always_removed(card: str, before: str, after: str) -> None:
    text = before + card + after
    scrubbed = scrub_for_storage(text)
    assert card not in scrubbed
    assert [text[a:b] for a, b in card_spans(text)] == [card]


WORDS = st.text(string.ascii_lowercase, min_size=1, max_size=12)
NUMBERS = st.integers(0, 10**12 - 1).map(str)  # at most 12 digits: never a card
PLAIN_TEXT = st.lists(
    st.tuples(WORDS, st.sampled_from([" ", ", ", ". ", " (", ") ", "? ", "'", '"', ";"]), NUMBERS),
    max_size=20,
).map(lambda parts: " ".join(w + p + n + " " + w for w, p, n in parts))


@settings(max_examples=400, deadline=None)
@given(PLAIN_TEXT)
def test_text_without_cards_tokens_or_secrets_is_stored_unchanged(text: str) -> None:
    assert scrub_for_storage(text) == text
    assert mask_free_text(text, []) == text


LOCAL = st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,15}", fullmatch=True)
DOMAIN = st.from_regex(r"[a-z0-9-]{1,12}(\.[a-z0-9-]{1,8}){0,2}\.[a-z]{2,6}", fullmatch=True)


@settings(max_examples=400, deadline=None)
@given(LOCAL, DOMAIN, st.text(max_size=40), st.text(max_size=40))
def test_e_mail_addresses_inside_any_text_are_always_masked(
    local: str, domain: str, before: str, after: str
) -> None:
    address = f"{local}@{domain}"
    assert address not in mask_free_text(before + address + after, ["email"])
