"""Masking of secrets and sensitive fields before anything is stored or logged."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

MASK = "***"
SENSITIVE_KEY = re.compile(
    r"(pass(word)?|secret|token|api[_-]?key|authorization|cookie|session|signature|"
    r"tax[_-]?id|vat|iban|bic|swift|bank|account[_-]?number|routing|e[-_]?mail|ssn)",
    re.IGNORECASE,
)
# An address starts where a run of address characters starts, so a long run without "@" is
# scanned once, not once per character (which took minutes on a 1 MB string).
EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]+\.[\w.-]+")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?\b")
MAX_DEPTH = 32


def is_sensitive_key(key: str) -> bool:
    """True for field names that carry secrets, tax ids, bank details or e-mail addresses."""
    return bool(SENSITIVE_KEY.search(key))


def mask_text(text: str) -> str:
    """Mask e-mail addresses and IBAN-like numbers inside free text."""
    masked = EMAIL.sub(MASK, text)
    while masked != text:  # an address right after a masked one starts a new run: mask it too
        text, masked = masked, EMAIL.sub(MASK, masked)
    return IBAN.sub(MASK, masked)


def mask_free_text(text: str, hidden: Collection[str]) -> str:
    """`text` with the e-mail addresses masked when "email" is `hidden`."""
    return EMAIL.sub(MASK, text) if "email" in hidden else text


def mask_sensitive(value: Any, _depth: int = 0) -> Any:
    """A copy of `value` with sensitive fields replaced by `***` (recursively)."""
    if _depth > MAX_DEPTH:
        return MASK
    if isinstance(value, dict):
        return {
            str(k): (
                MASK
                if is_sensitive_key(str(k)) and v not in (None, "")
                else mask_sensitive(v, _depth + 1)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_sensitive(v, _depth + 1) for v in value]
    if isinstance(value, str):
        return mask_text(value)
    return value
