"""Sensitive values kept out of storage and off the screen.

- `scrub_for_storage`: card numbers, tokens and secrets removed from free text before it is
  stored (error messages, notes) — no role ever needs them.
- `mask_free_text`: free text with the kinds a role may not see masked at display (e-mail
  addresses, tax ids, IBANs; cards and secrets always).
- `mask_sensitive`: a payload or quarantined record with the values of sensitive keys and every
  sensitive span in its strings masked before storage.

docs/data-protection.md describes what each detector finds and how it is validated.
"""

from store.masking.keys import KEY_WORDS, KeyKind, is_sensitive_key, key_kind
from store.masking.payload import ALL_COUNTRIES, MAX_DEPTH, mask_sensitive
from store.masking.tax_ids import DEFAULT_COUNTRIES
from store.masking.text import (
    ALWAYS_HIDDEN,
    EMAIL,
    MASK,
    TEXT_KINDS,
    TextKind,
    mask_free_text,
    scrub_for_storage,
)

__all__ = [
    "ALL_COUNTRIES",
    "ALWAYS_HIDDEN",
    "DEFAULT_COUNTRIES",
    "EMAIL",
    "KEY_WORDS",
    "MASK",
    "MAX_DEPTH",
    "TEXT_KINDS",
    "KeyKind",
    "TextKind",
    "is_sensitive_key",
    "key_kind",
    "mask_free_text",
    "mask_sensitive",
    "scrub_for_storage",
]
