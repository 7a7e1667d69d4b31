"""Small helpers for fast patterns: word lists as prefix trees, and an ASCII case fold that
keeps every character where it is (so a match in the folded text is a span of the original).

A pattern that starts with literal characters lets Python's `re` skip ahead to where one of
them occurs; an alternation factored by common prefixes (`pass(?:word|wd|phrase)`) is tried
once per character, not once per word.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_ASCII_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)


def lower(text: str) -> str:
    """`text` with ASCII letters in lower case and nothing else changed: same length, so a
    span found in it is a span of `text` (`str.lower` may change the length of other text)."""
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


def upper(text: str) -> str:
    """`text` with ASCII letters in upper case and nothing else changed (same length)."""
    return text.upper() if text.isascii() else text.translate(_ASCII_UPPER)


def digit_count(text: str) -> int:
    """How many ASCII digits `text` holds (counted in C, not character by character)."""
    data = text.encode("utf-8", "surrogatepass")
    return len(data) - len(data.translate(None, b"0123456789"))


def glued(text: str, start: int) -> bool:
    """Whether the character before `start` is an ASCII letter or digit (a number or key
    found there would be the tail of a longer word)."""
    return start > 0 and text[start - 1].isascii() and text[start - 1].isalnum()


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    tail: str | None = None  # the pattern after a word ending here


def trie(words: Mapping[str, str], space: str = " ") -> str:
    """An alternation of `words` (keys) factored by common prefixes, each word followed by its
    value (a pattern; "" for none). A space in a word stands for the pattern `space`."""
    root = _Node()
    for word, tail in words.items():
        node = root
        for ch in word:
            node = node.children.setdefault(ch, _Node())
        node.tail = tail
    return _render(root, space)


def _render(node: _Node, space: str) -> str:
    alternatives = [
        (space if ch == " " else re.escape(ch)) + _render(child, space)
        for ch, child in node.children.items()
    ]
    if node.tail is not None:  # last: the longer words are tried first
        alternatives.append(node.tail)
    if len(alternatives) == 1:
        return alternatives[0]
    return "(?:" + "|".join(alternatives) + ")"
