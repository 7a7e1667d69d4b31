"""Masking inside free text (error messages, notes, names, payload strings): every detector
finds spans of one kind, the spans of the kinds to hide are merged, and each merged span is
replaced by `MASK` — one pass over the text per detector, so the whole is linear in its length.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator
from typing import Literal

from store.masking.numbers import CARD_DIGITS, card_spans, iban_spans
from store.masking.patterns import digit_count, lower
from store.masking.secrets import secret_spans
from store.masking.tax_ids import DEFAULT_COUNTRIES, tax_id_spans

MASK = "***"
TextKind = Literal["email", "tax_id", "bank", "card", "secret"]
TEXT_KINDS: tuple[TextKind, ...] = ("email", "tax_id", "bank", "card", "secret")
#: What no role ever needs to read: hidden everywhere and removed before storage.
ALWAYS_HIDDEN: frozenset[TextKind] = frozenset({"card", "secret"})
#: The kinds to find for the `hidden` arguments callers pass most (no set built per call).
_KINDS: dict[object, frozenset[str]] = {TEXT_KINDS: frozenset(TEXT_KINDS), (): ALWAYS_HIDDEN}
Span = tuple[int, int]

#: An address as one pattern, for callers that substitute addresses directly: it starts where
#: a run of address characters starts, so a long run without "@" is scanned once, not once per
#: character. It misses an address glued to the one before it (`a@b.c+d@e.f`); `email_spans`
#: finds those too.
EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]+\.[\w.-]+")
_AT_DOMAIN = re.compile(r"@[\w-]++\.[\w.-]++")
_LOCAL_PART = re.compile(r"[\w.+-]++")  # read backwards, on the reversed text


def email_spans(text: str) -> Iterator[Span]:
    """Spans of e-mail addresses: each "@" followed by a dotted domain, with the run of
    address characters before it (read backwards, never into the previous address)."""
    if "@" not in text:
        return
    backwards = ""
    previous_end = -1
    for domain in _AT_DOMAIN.finditer(text):
        at = domain.start()
        backwards = backwards or text[::-1]
        local = _LOCAL_PART.match(backwards, len(text) - at)
        if local is not None:
            start = max(at - (local.end() - local.start()), previous_end)
        elif at == previous_end:  # glued to the address before: "…@b.c@d.e"
            start = at
        else:
            continue
        yield start, domain.end()
        previous_end = domain.end()


def mask_free_text(
    text: str, hidden: Collection[str], countries: Collection[str] = DEFAULT_COUNTRIES
) -> str:
    """`text` with every detected span of a kind in `hidden` replaced by MASK ("card" and
    "secret" are always hidden). Tax ids are those of the legal entities' `countries`."""
    kinds = _KINDS.get(hidden) if isinstance(hidden, tuple) else None
    return _replace(text, _spans(text, kinds or ALWAYS_HIDDEN.union(hidden), countries))


def scrub_for_storage(text: str) -> str:
    """`text` with card numbers, tokens and secrets removed (replaced by MASK) — what no role
    ever needs; the rest is kept for masking at display."""
    return _replace(text, _spans(text, ALWAYS_HIDDEN, ()))


def _spans(text: str, kinds: frozenset[str], countries: Collection[str]) -> list[Span]:
    """The spans of `kinds` in `text`. A card number is never taken from inside an IBAN."""
    spans: list[Span] = []
    if "secret" in kinds:
        spans += secret_spans(text, lower(text))
    if "email" in kinds:
        spans += email_spans(text)
    digits = digit_count(text)
    if digits < 2:  # every number below has two digits or more
        return spans
    cards = "card" in kinds and digits >= CARD_DIGITS.start
    ibans = list(iban_spans(text)) if "bank" in kinds or cards else []
    if "bank" in kinds:
        spans += ibans
    if "tax_id" in kinds:
        spans += tax_id_spans(text, countries)
    if cards:
        spans += _apart(card_spans(text), ibans)
    return spans


def _apart(spans: Iterable[Span], others: list[Span]) -> Iterator[Span]:
    """The spans that overlap none of `others` (both in order of their start)."""
    i = 0
    for start, end in spans:
        while i < len(others) and others[i][1] <= start:
            i += 1
        if i == len(others) or end <= others[i][0]:
            yield start, end


def _replace(text: str, spans: list[Span]) -> str:
    """`text` with the union of `spans` replaced, one MASK per run of touching spans."""
    if not spans:
        return text
    out: list[str] = []
    kept = -1  # the end of the masked run being built (-1: none yet)
    for start, end in sorted(spans):
        if end <= start:
            continue
        if start <= kept:  # overlaps or touches the run: extend it
            kept = max(kept, end)
            continue
        out += (text[max(kept, 0) : start], MASK)
        kept = end
    out.append(text[max(kept, 0) :])
    return "".join(out)
