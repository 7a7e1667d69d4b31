"""Reading the good records of a JSON page that the JSON parser refuses as a whole.

A page is one JSON document, so one record holding bytes that are not UTF-8, or a value nested
deeper than the parser's recursion limit (about 1,000 levels), makes the whole page unreadable
and would hold back every good record beside it, on every run. `salvage_json` reads such a page
again: bytes that are not UTF-8 become U+FFFD, values nested deeper than `MAX_DEPTH` levels
become `TOO_DEEP`, and each record (an object inside a list) that held either is marked with
`DEFECT_KEY` and the reason, so the runner quarantines it and stores the others. A page whose
damage lies outside every record is not salvaged (None): the caller refuses the page.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 200
TOO_DEEP = f"(nested deeper than {MAX_DEPTH} levels)"
#: The member of a salvaged record that says why it must be quarantined.
DEFECT_KEY = "_throughline_defect"

_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_ESCAPED = re.compile("[\udc80-\udcff]")  # undecodable bytes under `surrogateescape`


def salvage_json(content: bytes) -> Any | None:
    """The page with its damaged records marked (see the module docstring), or None."""
    text = content.decode("utf-8-sig", errors="surrogateescape")
    try:
        payload = json.loads(_cap_depth(text))
    except (ValueError, RecursionError):
        return None
    damaged = [False]  # damage found outside any record
    cleaned, _ = _clean(payload, "", None, damaged)
    return None if damaged[0] else cleaned


def _cap_depth(text: str) -> str:
    """`text` with every array or object nested deeper than `MAX_DEPTH` replaced by a string."""
    parts: list[str] = []
    depth, done, skip_from = 0, 0, -1
    for token in _TOKEN.finditer(text):
        kind = token.group()
        if kind in "[{":
            depth += 1
            if depth == MAX_DEPTH + 1 and skip_from < 0:
                skip_from = token.start()
        elif kind in "]}":
            depth -= 1
            if depth == MAX_DEPTH and skip_from >= 0:
                parts.append(text[done:skip_from])
                parts.append(json.dumps(TOO_DEEP))
                done, skip_from = token.end(), -1
    parts.append(text[done:])
    return "".join(parts)


def _clean(
    value: Any, path: str, record: dict[str, Any] | None, damaged: list[bool]
) -> tuple[Any, str | None]:
    """(cleaned value, the first problem in it); records get `DEFECT_KEY` set."""
    if isinstance(value, str):
        where = path if len(path) <= 60 else f"{path[:60]}…"
        if value == TOO_DEEP:
            return value, f"a value nests deeper than {MAX_DEPTH} levels (at {where or 'the top'})"
        if _ESCAPED.search(value):
            fixed = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            return fixed, f"text is not valid UTF-8 (at {where or 'the top'})"
        return value, None
    if isinstance(value, list):
        out, first = [], None
        for i, item in enumerate(value):
            if isinstance(item, dict) and record is None:  # a record of the page
                cleaned, problem = _clean(item, "", item, damaged)
                if problem is not None:
                    cleaned[DEFECT_KEY] = problem
            else:
                cleaned, problem = _clean(item, f"{path}[{i}]", record, damaged)
                first = first or problem
            out.append(cleaned)
        return out, _outside(first, record, damaged)
    if isinstance(value, dict):
        result: dict[str, Any] = {}
        first = None
        for key, item in value.items():
            name, key_problem = _clean(key, path, record, damaged)
            cleaned, problem = _clean(item, f"{path}.{name}" if path else name, record, damaged)
            result[name] = cleaned
            first = first or key_problem or problem
        return result, _outside(first, record, damaged)
    return value, None


def _outside(problem: str | None, record: dict[str, Any] | None, damaged: list[bool]) -> str | None:
    """Pass a problem up to its record; note it when there is no record to blame."""
    if problem is not None and record is None:
        damaged[0] = True
    return problem
