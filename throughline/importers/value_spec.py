"""Where a value of a flat log's mapping comes from: a column, a constant, or text built of both.

In a mapping file::

    key: deal_id                                  # a column, as text
    key: {column: deal_id}                        # the same
    billable: {column: billable, type: boolean}   # a column read as a type
    legal_entity: {value: US}                     # a constant: every row gets it
    key: ["INV-", {column: invoice_no}]           # text built of parts: a string is itself,
                                                  # {column: …} that column's text

Built text is empty (no value) when any of its columns is empty on the row, so ``INV-`` alone
never names an invoice. Types: string (default), integer, number, boolean (true/false, yes/no,
1/0, t/f), date (ISO, kept as ``YYYY-MM-DD``), timestamp (ISO with an offset, or in the
mapping's `timezone`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, tzinfo
from operator import itemgetter
from typing import Any

from pydantic import model_validator

from throughline.importers.mapping_file import KeyPath, Strict
from throughline.importers.model_rules import ValueType
from throughline.importers.values import RowError, parse_boolean, parse_time, text

Reader = Callable[[Mapping[str, Any]], Any]


class Part(Strict):
    """One part of built text: fixed `text`, or a `column`'s text."""

    text: str | None = None
    column: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"text": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _one(self) -> Part:
        if (self.text is None) == (self.column is None):
            raise ValueError("a part is a string, or {column: NAME}")
        return self


class ValueSpec(Strict):
    """A column (read as `type`), a constant `value`, or text built of `parts`."""

    column: str | None = None
    type: ValueType = "string"
    value: str | int | float | bool | None = None
    parts: list[Part] | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"column": data}
        if isinstance(data, list):
            return {"parts": data}
        return data

    @model_validator(mode="after")
    def _one_source(self) -> ValueSpec:
        given = [self.column is not None, self.value is not None, self.parts is not None]
        if sum(given) != 1:
            raise ValueError(
                "give one of: a column name, {column: NAME, type: TYPE}, {value: CONSTANT} or "
                'a list of parts such as ["INV-", {column: NAME}]'
            )
        if self.type != "string" and self.column is None:
            raise ValueError("`type` applies to a column")
        if self.parts is not None and not any(p.column for p in self.parts):
            raise ValueError("built text needs a {column: NAME} part (else use {value: …})")
        return self

    def columns(self, path: KeyPath) -> list[tuple[KeyPath, str]]:
        """The columns it reads, each with the key path that names it."""
        if self.column is not None:
            return [(path, self.column)]
        return [
            ((*path, i, "column"), p.column)
            for i, p in enumerate(self.parts or [])
            if p.column is not None
        ]

    def declared(self) -> ValueType:
        """The type it yields: a column's `type`, a constant's own, text for built parts."""
        if self.column is not None or self.value is None:
            return self.type
        if isinstance(self.value, bool):
            return "boolean"
        return (
            "integer"
            if isinstance(self.value, int)
            else ("number" if isinstance(self.value, float) else "string")
        )

    def reader(self) -> Reader:
        """The row → raw value function (a column's cell as read, not yet typed)."""
        if self.column is not None:  # the file has it (checked before reading)
            return itemgetter(self.column)
        if self.parts is None:
            constant = self.value
            return lambda _row: constant
        parts = [(p.column is not None, p.column or p.text or "") for p in self.parts]

        def built(row: Mapping[str, Any]) -> str | None:
            out = []
            for is_column, name in parts:
                if not is_column:
                    out.append(name)
                    continue
                cell = text(row.get(name))
                if cell is None:
                    return None
                out.append(cell)
            return "".join(out)

        return built

    def label(self) -> str:
        """How a message names it: the column, the constant, or the parts."""
        if self.column is not None:
            return self.column
        if self.parts is None:
            return repr(self.value)
        return "+".join(p.column or repr(p.text) for p in self.parts)


def typed(value: Any, type_: ValueType, name: str, zone: tzinfo | None = None) -> Any:
    """A cell as `type_` (empty → None; a timestamp without an offset in `zone`); `RowError`
    naming `name` when it is not one."""
    if value is None or value == "":
        return None
    if type_ == "boolean":
        return parse_boolean(value, name)
    try:
        if type_ == "string":
            return value if isinstance(value, str) else str(value)
        if type_ == "integer":
            number = float(value)
            if not number.is_integer():
                raise ValueError
            return int(number)
        if type_ == "number":
            return float(value)
        if type_ == "date":
            return date.fromisoformat(str(value)[:10]).isoformat()
        return parse_time(value, name, zone).isoformat()
    except ValueError as exc:
        raise RowError(
            f"{name} is not a valid {type_}: {value!r:.40}", f"{name} is not a valid {type_}"
        ) from exc
