"""Free-text masking stays linear on adversarial input: 1 MB strings built to make each
detector work hardest (long runs, half-finished matches, candidates on every character).

The bound is generous (a loaded CI machine); on an idle machine the slowest input takes about
0.2 s of CPU time for `mask_free_text` with every kind and every country.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import pytest

from store.masking import ALL_COUNTRIES, TEXT_KINDS, mask_free_text, scrub_for_storage

SIZE = 1_000_000
BOUND_SECONDS = 1.5


def repeated(piece: str) -> str:
    return (piece * (SIZE // len(piece) + 1))[:SIZE]


def shuffled(alphabet: str) -> str:
    rng = random.Random(19)
    return "".join(rng.choices(alphabet, k=SIZE))


ADVERSARIAL = {
    "digits": repeated("7"),
    "card-first digits": repeated("4"),
    "at signs": repeated("@"),
    "spaces": repeated(" "),
    "letters": repeated("a"),
    "local parts": repeated("a@"),
    "half addresses": repeated("a@b."),
    "glued addresses": repeated("a@b.c+"),
    "digit groups of one": repeated("2 "),
    "digit groups of four": repeated("2222 "),
    "card after card": repeated("4242 4242 4242 4242 "),
    "IBAN starts": repeated("DE89 "),
    "IBAN after IBAN": repeated("DE89 3704 0044 0532 0130 00 "),
    "VAT starts": repeated("DE1 "),
    "VAT after VAT": repeated("DE136695976 "),
    "EIN labels": repeated("EIN "),
    "EIN shapes": repeated("12-3456789 "),
    "labels": repeated("a:"),
    "secret labels": repeated("token= "),
    "secrets": repeated("password: x "),
    "unclosed quotes": repeated('password="'),
    "bearer words": repeated("Bearer "),
    "bearer credentials": repeated("Bearer Abc123456 "),
    "JWT starts": repeated("eyJ"),
    "JWT parts": repeated("eyJabcdef."),
    "URL user-info": repeated("://a:"),
    "private key headers": repeated("-----BEGIN PRIVATE KEY-----"),
    "random symbols": shuffled("ab1 @.:=-"),
    "random digits and separators": shuffled("0123456789 -"),
}
CALLS: dict[str, Callable[[str], str]] = {
    "mask_free_text": lambda text: mask_free_text(text, TEXT_KINDS, ALL_COUNTRIES),
    "scrub_for_storage": scrub_for_storage,
}


@pytest.mark.slow
@pytest.mark.parametrize("call", CALLS)
def test_masking_a_megabyte_of_adversarial_text_takes_well_under_a_second(
    call: str, record_property: Callable[[str, object], None]
) -> None:
    timings = {}
    for name, text in ADVERSARIAL.items():
        started = time.process_time()
        result = CALLS[call](text)
        timings[name] = time.process_time() - started
        assert len(result) <= len(text) + len(text) // 2  # masked, not blown up
    worst = max(timings, key=timings.__getitem__)
    record_property("worst_input", worst)
    record_property("worst_cpu_seconds", round(timings[worst], 3))
    print(f"{call}: slowest 1 MB input {worst!r} took {timings[worst]:.3f} s of CPU time")
    assert timings[worst] < BOUND_SECONDS, timings
