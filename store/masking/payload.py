"""Payloads and quarantined records made safe to store: the value of every sensitive key is
replaced by the mask, at any depth, and every string left is masked as free text (all kinds).

Keys are matched by `keys.key_kind` (case-, separator- and nesting-insensitive). Header lists
count as keys too: a `[name, value]` pair (`["Authorization", "Bearer …"]`) and a
`{"name": …, "value": …}` object (also `key`/`header`/`field`/`param` for the name) whose name
is sensitive have their value masked.
"""

from __future__ import annotations

from typing import Any

from store.masking.keys import is_sensitive_key
from store.masking.tax_ids import EU_MEMBERS
from store.masking.text import MASK, TEXT_KINDS, mask_free_text

MAX_DEPTH = 32
#: Every country with a tax id detector: a payload is stored for all roles, whatever the
#: legal entities, so its strings lose every tax id format known.
ALL_COUNTRIES: tuple[str, ...] = tuple(sorted(EU_MEMBERS | {"GB", "US"}))
_NAME_FIELDS = frozenset({"name", "key", "header", "field", "param", "parameter"})
_VALUE_FIELDS = frozenset({"value", "values"})


def mask_sensitive(value: Any, _depth: int = 0) -> Any:
    """A copy of `value` with sensitive fields replaced by `***` (recursively; empty values
    stay empty) and sensitive spans in its strings masked; deeper than `MAX_DEPTH`, the mask."""
    if _depth > MAX_DEPTH:
        return MASK
    if isinstance(value, dict):
        named = _names_a_secret(value)
        return {
            str(k): (
                MASK
                if _filled(v)
                and (is_sensitive_key(str(k)) or (named and str(k).lower() in _VALUE_FIELDS))
                else mask_sensitive(v, _depth + 1)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        if len(value) == 2 and isinstance(value[0], str) and is_sensitive_key(value[0]):
            return [value[0], MASK if _filled(value[1]) else value[1]]
        return [mask_sensitive(v, _depth + 1) for v in value]
    if isinstance(value, str):
        return mask_free_text(value, TEXT_KINDS, ALL_COUNTRIES)
    return value


def _filled(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and value == "")


def _names_a_secret(item: dict[Any, Any]) -> bool:
    """Whether `item` is a name/value entry (`{"name": "Authorization", "value": …}`) whose
    name is a sensitive key."""
    if not any(str(k).lower() in _VALUE_FIELDS for k in item):
        return False
    return any(
        str(k).lower() in _NAME_FIELDS and isinstance(v, str) and is_sensitive_key(v)
        for k, v in item.items()
    )
