"""VAT and tax ids inside free text, found by each country's documented shape and proven by its
check digits (python-stdnum's implementation of each country's published algorithm, e.g. the
German USt-IdNr's ISO 7064 MOD 11,10).

Which formats apply follows the legal entities' countries: a US entity brings US EINs
(`12-3456789`, or nine digits after an "EIN" label), a GB entity GB and XI (Northern Ireland)
VAT numbers, and an entity in any EU member state the VAT numbers of every member state —
invoices within the EU carry the customer's VAT number from wherever the customer is.
VAT numbers may be written with a space or dash after the country code and single spaces,
dots or dashes between characters (`DE 123 456 788`, `BE 0403.019.261`, `MT 1167-9112`), in
any case.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from functools import cache, lru_cache

from stdnum.eu import vat as eu_vat
from stdnum.gb import vat as gb_vat
from stdnum.us import ein as us_ein

from store.masking.patterns import digit_count, glued, trie, upper

Span = tuple[int, int]

DEFAULT_COUNTRIES: tuple[str, ...] = ("US", "GB", "DE")
EU_MEMBERS = frozenset(
    {
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    }
)
_SEP = "[ .-]?"  # one optional space, dot or dash between two characters


def _chars(cls: str, low: int, high: int | None = None) -> str:
    """`low` (up to `high`) characters of class `cls`, each after an optional separator."""
    count = f"{{{low}}}" if high is None else f"{{{low},{high}}}"
    return f"(?:{_SEP}{cls}){count}"


_D, _L, _A = r"\d", "[A-Z]", "[0-9A-Z]"
#: The VAT number after its prefix, as each tax authority prints it (compacted: VIES formats).
VAT_BODIES: dict[str, str] = {
    "AT": "U" + _chars(_D, 8),
    "BE": _D + _chars(_D, 8, 9),
    "BG": _D + _chars(_D, 8, 9),
    "CY": _D + _chars(_D, 7) + _chars(_L, 1),
    "CZ": _D + _chars(_D, 7, 9),
    "DE": _D + _chars(_D, 8),
    "DK": _D + _chars(_D, 7),
    "EE": _D + _chars(_D, 8),
    "EL": _D + _chars(_D, 8),
    "ES": _A + _chars(_D, 7) + _chars(_A, 1),
    "FI": _D + _chars(_D, 7),
    "FR": _A + _chars(_A, 1) + _chars(_D, 9),
    "HR": _D + _chars(_D, 10),
    "HU": _D + _chars(_D, 7),
    "IE": _D + _chars("[0-9A-Z+*]", 1) + _chars(_D, 5) + _chars(_L, 1, 2),
    "IT": _D + _chars(_D, 10),
    "LT": _D + f"(?:{_chars(_D, 11)}|{_chars(_D, 8)})",
    "LU": _D + _chars(_D, 7),
    "LV": _D + _chars(_D, 10),
    "MT": _D + _chars(_D, 7),
    "NL": _D + _chars(_D, 8) + _chars("B", 1) + _chars(_D, 2),
    "PL": _D + _chars(_D, 9),
    "PT": _D + _chars(_D, 8),
    "RO": _D + _chars(_D, 1, 9),
    "SE": _D + _chars(_D, 11),
    "SI": _D + _chars(_D, 7),
    "SK": _D + _chars(_D, 9),
}
GB_BODY = _D + f"(?:{_chars(_D, 11)}|{_chars(_D, 8)})|(?:GD|HA){_chars(_D, 3)}"
EIN_DIGITS = 9
#: A US EIN as the IRS prints it; the character before must not be a digit or dash.
EIN = re.compile(r"[0-9]{2}-[0-9]{7}(?![0-9-])")
_DIGIT_OR_DASH = frozenset("0123456789-")
#: Nine digits after an "EIN" (or "FEIN") label, which stays: the number is the span.
EIN_LABELLED = re.compile(r"EIN(?![A-Za-z])[\s:#.]*+(?P<number>[0-9]{9})(?![0-9])")
#: Past this many candidates in one text, shape alone decides (every further one is masked):
#: the check digits are computed in Python, and a text must not make that unbounded work.
MAX_CHECKED = 10_000
_COMPACT = re.compile(r"[ .-]")


@cache
def _chosen(countries: frozenset[str]) -> frozenset[str]:
    return frozenset(c.upper() for c in countries)


@cache
def _vat_finder(countries: frozenset[str]) -> re.Pattern[str] | None:
    """One pattern (for the upper-cased text) of every VAT format the countries bring."""
    bodies = dict(VAT_BODIES) if countries & EU_MEMBERS else {}
    if "GB" in countries:
        bodies |= {"GB": GB_BODY, "XI": GB_BODY}
    if not bodies:
        return None
    return re.compile(
        trie({p: f"[ -]?(?P<{p}>(?:{body}))(?![A-Z0-9])" for p, body in bodies.items()}),
        re.ASCII,
    )


def tax_id_spans(text: str, countries: Collection[str] = DEFAULT_COUNTRIES) -> Iterator[Span]:
    """Spans of valid VAT numbers and EINs of the formats `countries` bring."""
    chosen = _chosen(frozenset(countries))
    checks = _Checks()
    vat = _vat_finder(chosen)
    if vat is not None:
        folded = upper(text)  # same length: spans carry over to `text`
        for match in vat.finditer(folded):
            if not glued(folded, match.start()) and checks.valid(match.lastgroup, match.group()):
                yield match.span()
    if "US" in chosen and digit_count(text) >= EIN_DIGITS:
        yield from _ein_spans(text, checks)


def _ein_spans(text: str, checks: _Checks) -> Iterator[Span]:
    """EINs written `NN-NNNNNNN` (not inside a longer number) and nine digits after a label."""
    for match in EIN.finditer(text):
        before = text[max(match.start() - 1, 0) : match.start()]
        if before not in _DIGIT_OR_DASH and checks.valid("US", match.group()):
            yield match.span()
    for match in EIN_LABELLED.finditer(text):
        start = match.start() - (text[max(match.start() - 1, 0) : match.start()] == "F")
        if not text[max(start - 1, 0) : start].isalpha() and checks.valid("US", match["number"]):
            yield match.span("number")


class _Checks:
    """Check digits for one text's candidates, at most `MAX_CHECKED` of them."""

    def __init__(self) -> None:
        self.left = MAX_CHECKED

    def valid(self, kind: str | None, candidate: str) -> bool:
        if kind is None:
            return False
        self.left -= 1
        return self.left < 0 or _valid(kind, candidate)


@lru_cache(maxsize=4096)
def _valid(kind: str, candidate: str) -> bool:
    """Whether a candidate of that format passes its country's check digits."""
    number = _COMPACT.sub("", candidate).upper()
    if kind == "US":
        return bool(us_ein.is_valid(number))
    if kind in ("GB", "XI"):
        return bool(gb_vat.is_valid(number))
    return bool(eu_vat.is_valid(number))
