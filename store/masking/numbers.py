"""Bank account and payment card numbers inside free text, found by shape and proven by their
check digits: IBANs by ISO 13616 (the SWIFT registry's length and layout per country, then
mod 97), card numbers by the Luhn check.

Every finder is linear in the length of the text: candidates start only where a run starts,
each is read for a bounded number of characters, and card check digits come from prefix sums.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator

import numpy as np
from stdnum import numdb

from store.masking.patterns import glued, trie, upper

Span = tuple[int, int]

# --- IBAN ------------------------------------------------------------------------------------

_LAYOUT_PART = re.compile(r"(\d+)!([nac])")
_LAYOUT_CLASS = {"n": "[0-9]", "a": "[A-Z]", "c": "[A-Z0-9]"}


def _bban_layouts() -> dict[str, tuple[int, re.Pattern[str]]]:
    """Each country's BBAN length and layout (`4!a6!n8!n`: 4 letters, 6 digits, 8 digits) from
    the SWIFT IBAN registry that python-stdnum ships, the layout as a pattern."""
    layouts: dict[str, tuple[int, re.Pattern[str]]] = {}
    for _, country, _, info, _ in numdb.get("iban").prefixes:
        parts = _LAYOUT_PART.findall(info.get("bban", ""))
        if parts:
            body = "".join(f"{_LAYOUT_CLASS[kind]}{{{n}}}" for n, kind in parts)
            layouts[country] = (sum(int(n) for n, _ in parts), re.compile(body))
    return layouts


#: Country code → (BBAN length, BBAN layout).
BBAN_LAYOUTS = _bban_layouts()
#: An IBAN of the registered length in the upper-cased text: country code, check digits, then
#: the BBAN's letters and digits, a single space allowed before each, then a boundary.
_IBAN = re.compile(
    trie(
        {
            country: rf"\d\d(?:[ \u00a0]?[A-Z0-9]){{{length}}}(?![A-Z0-9])"
            for country, (length, _) in BBAN_LAYOUTS.items()
        }
    ),
    re.ASCII,
)
_IBAN_HINT = re.compile("[A-Za-z]{2}[0-9]{2}")
_SHORTEST_IBAN = 4 + min(length for length, _ in BBAN_LAYOUTS.values())
_SPACES = str.maketrans("", "", " \u00a0")
_AS_DIGITS = str.maketrans({c: str(10 + i) for i, c in enumerate(string.ascii_uppercase)})


def iban_spans(text: str) -> Iterator[Span]:
    """Spans of valid IBANs: printed in groups of four or not at all, upper or lower case."""
    if len(text) < _SHORTEST_IBAN or _IBAN_HINT.search(text) is None:
        return
    folded = upper(text)  # same length: spans carry over to `text`
    pos = 0
    while (match := _IBAN.search(folded, pos)) is not None:
        start = match.start()
        if glued(folded, start) or not is_iban(match.group()):
            pos = start + 1
            continue
        yield match.span()
        pos = match.end()


def is_iban(candidate: str) -> bool:
    """Whether `candidate` (spaces allowed, any case) is an IBAN: a registered country, its
    BBAN length and layout, and ISO 7064 MOD 97-10 check digits (country and check digits
    moved to the end, letters as 10–35, remainder 1)."""
    number = candidate.translate(_SPACES).upper()
    layout = BBAN_LAYOUTS.get(number[:2])
    if layout is None or not number[2:4].isdigit() or not layout[1].fullmatch(number, 4):
        return False
    return int((number[4:] + number[:4]).translate(_AS_DIGITS)) % 97 == 1


# --- payment cards --------------------------------------------------------------------------

CARD_DIGITS = range(13, 20)
#: The first digit of the card networks' numbers: 2 and 5 Mastercard, 3 American Express, JCB
#: and Diners, 4 Visa, 6 Discover, UnionPay and Maestro. Numbers starting 0, 1, 7, 8 or 9 are
#: not taken for cards (13-digit epoch milliseconds start with 1).
CARD_FIRST_DIGITS = frozenset("23456")
#: Groups of 3–19 digits joined by single spaces or dashes, not glued to other digits.
_DIGIT_RUN = re.compile(r"\d(?<!\d\d)\d{2,18}+(?!\d)(?:[ -]\d{3,19}+(?!\d))*+", re.ASCII)
#: A card spans at most this many groups (each has three digits or more).
_MAX_GROUPS = (CARD_DIGITS.stop - 1) // 3
#: A digit's share of the Luhn sum when doubled: the digit sum of twice the digit.
_DOUBLED = np.array([0, 2, 4, 6, 8, 1, 3, 5, 7, 9], dtype=np.int64)
_FIRST_DIGITS = np.array(sorted(int(d) for d in CARD_FIRST_DIGITS))


def card_spans(text: str) -> Iterator[Span]:
    """Spans of Luhn-valid card numbers: 13–19 digits starting 2–6, printed unbroken or in
    groups of three or more digits (so `4111 1111 1111 1111 12/26` gives the card alone). At
    each group the longest card starting there is taken, and the search goes on after it."""
    runs = [(m.start(), m.group()) for m in _DIGIT_RUN.finditer(text) if len(m.group()) >= 13]
    if not runs:
        return
    groups: list[str] = []
    per_run: list[int] = []
    for _, run in runs:
        parts = run.replace("-", " ").split(" ")
        groups += parts
        per_run.append(len(parts))
    cards = _Groups(groups, per_run, [at for at, _ in runs])
    last_of = cards.longest_card_from_each_group()
    taken = -1
    for first in np.flatnonzero(last_of >= 0).tolist():
        if first > taken:
            taken = int(last_of[first])
            yield cards.text_start[first], cards.text_start[taken] + len(groups[taken])


class _Groups:
    """The digit groups of every run, with the arithmetic for all windows at once."""

    def __init__(self, groups: list[str], per_run: list[int], run_starts: list[int]) -> None:
        sizes = np.fromiter(map(len, groups), dtype=np.int64, count=len(groups))
        self.run = np.repeat(np.arange(len(per_run)), per_run)
        first_of_run = np.cumsum(per_run) - per_run
        width = np.cumsum(sizes + 1) - (sizes + 1)  # digits and separators before each group
        self.text_start: list[int] = (
            np.asarray(run_starts)[self.run] + width - width[first_of_run][self.run]
        ).tolist()
        self.digit_end = np.cumsum(sizes)
        self.digit_start = self.digit_end - sizes
        self.digits = np.frombuffer("".join(groups).encode("ascii"), np.uint8).astype(np.int64) - 48

    def longest_card_from_each_group(self) -> np.ndarray:
        """For each group, the last group of the longest Luhn-valid card starting there (-1:
        none). `sums[p][k]` is the Luhn sum of the first k digits with the digits at positions
        of parity p doubled; a card's last digit is not doubled, the one before it is."""
        digits, start = self.digits, self.digit_start
        doubled = _DOUBLED[digits]
        odd = np.arange(len(digits)) % 2 == 1
        sums = (
            np.concatenate(([0], np.cumsum(np.where(odd, digits, doubled)))),
            np.concatenate(([0], np.cumsum(np.where(odd, doubled, digits)))),
        )
        may_start = np.isin(digits[start], _FIRST_DIGITS)
        count = len(start)
        best = np.full(count, -1)
        for extra in range(_MAX_GROUPS):
            last = np.minimum(np.arange(count) + extra, count - 1)
            end = self.digit_end[last]
            luhn = np.where(
                end % 2 == 0, sums[0][end] - sums[0][start], sums[1][end] - sums[1][start]
            )
            fits = (end - start >= CARD_DIGITS.start) & (end - start < CARD_DIGITS.stop)
            valid = may_start & fits & (self.run[last] == self.run) & (luhn % 10 == 0)
            best = np.where(valid & (np.arange(count) + extra < count), last, best)
        return best
