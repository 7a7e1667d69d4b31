"""Which field names (payload keys, header names, labels in text) carry sensitive values.

A name is split into lower-case word tokens — camelCase, snake_case, kebab-case, dotted paths
and spaces all split the same way, so `taxNumber`, `tax_number`, `Tax-Number` and
`billing.tax.number` are alike — and it is sensitive when a run of consecutive tokens, joined,
spells one of the `KEY_WORDS` (joined too): `accountNo` → `account`+`no` = "account no";
`UStIdNr` → `u`+`st`+`id`+`nr` = "ust id nr". Whole tokens only, so `ein` does not hit
`weinstein` or `protein`, `pw` does not hit `pwm` and `token` does not hit `tokenizer_version`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

KeyKind = Literal["secret", "card", "bank", "tax_id", "email"]

#: Every key word and the kind of value it names (docs/data-protection.md lists the same words;
#: a test keeps the two in step). Multi-word entries match however the words are joined.
KEY_WORDS: dict[str, KeyKind] = {
    # credentials and tokens
    "password": "secret",
    "passwords": "secret",
    "passwd": "secret",
    "pwd": "secret",
    "pw": "secret",
    "passphrase": "secret",
    "secret": "secret",
    "secrets": "secret",
    "token": "secret",
    "api key": "secret",
    "access key": "secret",
    "private key": "secret",
    "signing key": "secret",
    "authorization": "secret",
    "bearer": "secret",
    "cookie": "secret",
    "cookies": "secret",
    "session": "secret",
    "signature": "secret",
    "sig": "secret",
    "credential": "secret",
    "credentials": "secret",
    "jwt": "secret",
    "otp": "secret",
    # payment cards
    "card number": "card",
    "card no": "card",
    "cc number": "card",
    "credit card": "card",
    "debit card": "card",
    "pan": "card",
    "cvv": "card",
    "cvc": "card",
    "cvn": "card",
    "card verification": "card",
    "security code": "card",
    "pin": "card",
    # bank details
    "iban": "bank",
    "bic": "bank",
    "swift": "bank",
    "bank": "bank",
    "account number": "bank",
    "account no": "bank",
    "account nr": "bank",
    "acct no": "bank",
    "acct number": "bank",
    "sort code": "bank",
    "routing number": "bank",
    "bsb": "bank",
    "blz": "bank",
    "kontonummer": "bank",
    # tax ids
    "tax id": "tax_id",
    "tax number": "tax_id",
    "tax no": "tax_id",
    "tax nr": "tax_id",
    "tin": "tax_id",
    "ein": "tax_id",
    "ssn": "tax_id",
    "social security": "tax_id",
    "vat": "tax_id",
    "vatin": "tax_id",
    "ust id": "tax_id",
    "ust id nr": "tax_id",
    "steuernummer": "tax_id",
    "steuer nr": "tax_id",
    "utr": "tax_id",
    "nif": "tax_id",
    "siren": "tax_id",
    "siret": "tax_id",
    "fiscal code": "tax_id",
    "codice fiscale": "tax_id",
    # contacts
    "email": "email",
    "emails": "email",
    "mail address": "email",
}

_JOINED: dict[str, KeyKind] = {word.replace(" ", ""): kind for word, kind in KEY_WORDS.items()}
_LONGEST = max(map(len, _JOINED))
#: Upper-case runs (`API` in `APIKey`), capitalised or lower-case words, and digit runs.
_TOKEN = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
#: Names longer than this are not field names; they are read no further.
MAX_NAME = 200


def key_tokens(name: str) -> tuple[str, ...]:
    """`name` as lower-case word tokens: `X-Api-Key` → ("x", "api", "key")."""
    return tuple(t.lower() for t in _TOKEN.findall(name[:MAX_NAME]))


@lru_cache(maxsize=8192)
def key_kind(name: str) -> KeyKind | None:
    """The kind of value a field called `name` holds, or None for a harmless name."""
    tokens = key_tokens(name)
    for start in range(len(tokens)):
        kind = _run_kind(tokens, start, len(tokens))
        if kind is not None:
            return kind
    return None


@lru_cache(maxsize=8192)
def label_kind(label: str) -> KeyKind | None:
    """Like `key_kind`, for a label written before a value in text (`API key: …`): the key word
    must end the label, so "password reset link: …" is no password but "new password: …" is."""
    tokens = key_tokens(label)
    for start in range(len(tokens) - 1, -1, -1):
        joined = "".join(tokens[start:])
        if len(joined) > _LONGEST:
            break
        if joined in _JOINED:
            return _JOINED[joined]
    return None


def is_sensitive_key(name: str) -> bool:
    """True for field names that carry secrets, card or bank details, tax ids or e-mail
    addresses."""
    return key_kind(name) is not None


def _run_kind(tokens: tuple[str, ...], start: int, stop: int) -> KeyKind | None:
    joined = ""
    for token in tokens[start:stop]:
        joined += token
        if len(joined) > _LONGEST:
            return None
        if joined in _JOINED:
            return _JOINED[joined]
    return None
