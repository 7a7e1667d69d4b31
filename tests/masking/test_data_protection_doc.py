"""docs/data-protection.md states what the code does: its key word table is `KEY_WORDS`, its
VAT prefixes are the detector's, its formula triggers are the exporter's."""

from __future__ import annotations

import re
from pathlib import Path

from metrics.views.export import FORMULA_TRIGGERS
from store.masking import KEY_WORDS
from store.masking.tax_ids import VAT_BODIES

DOC = (Path(__file__).parents[2] / "docs" / "data-protection.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    return DOC.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_documented_key_words_are_the_ones_the_code_matches() -> None:
    documented: dict[str, str] = {}
    for row in re.findall(r"^\| (\w+) \| (`.+`) \|$", section("Payload key words"), re.M):
        kind, words = row
        for word in re.findall(r"`([^`]+)`", words):
            assert word not in documented, f"{word!r} is listed twice"
            documented[word] = kind
    assert documented == KEY_WORDS


def test_every_vat_format_the_code_finds_is_documented() -> None:
    formats = section("Free text: what is detected and how it is validated")
    assert [p for p in VAT_BODIES if not re.search(rf"\b{p} \(", formats)] == []


def test_the_documented_formula_triggers_are_the_ones_escaped() -> None:
    names = {
        "=": "`=`",
        "+": "`+`",
        "-": "`-`",
        "@": "`@`",
        "\t": "a tab",
        "\r": "a carriage return",
        "\0": "NUL",
    }
    exports = section("Exports")
    assert set(FORMULA_TRIGGERS) == set(names)
    assert [n for n in names.values() if n not in exports] == []
