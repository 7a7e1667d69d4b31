"""Flat event-log files read as a stream of rows: CSV (the `csv` module) or Parquet (pyarrow).

Rows are numbered from 1 (the first data row; a CSV row also names the line it starts on). A
CSV row that is not valid UTF-8 or has the wrong number of fields comes back with an error
instead of values, so that it is quarantined and the rest of the file read. Memory stays flat:
CSV is read record by record, Parquet in record batches of the mapped columns only. Before
reading, a source shows its header, its column types (Parquet) and a sample of its first rows,
for the mapping's checks.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from throughline.importers.run import BATCH_ROWS, ImportFailed
from throughline.importers.values import RowError


@dataclass(frozen=True, slots=True)
class Row:
    """One input row: its number, where it is, and its values (or why it has none)."""

    number: int
    where: str
    values: dict[str, Any] | None = None
    error: RowError | None = None
    raw: dict[str, Any] | str | None = None


class RowSource(Protocol):
    """A file of rows with a known size, for the progress bar."""

    total: int
    unit: str
    header: list[str]
    kinds: dict[str, str]  # column → its type in the file, where the format has types

    def sample(self, rows: int) -> list[dict[str, Any]]:
        """The first `rows` readable rows (for the mapping's checks; reading starts over)."""
        ...

    def position(self) -> int:
        """How far reading has got, in `unit`s."""
        ...

    def __iter__(self) -> Iterator[Row]: ...

    def close(self) -> None:
        """Release the file."""


def _readable(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class CsvSource:
    """A CSV file with a header line; undecodable bytes are kept to be reported per row."""

    unit = "B"

    def __init__(self, path: Path, delimiter: str = ",") -> None:
        self.path = path
        self.delimiter = delimiter
        self.kinds: dict[str, str] = {}  # CSV has no column types
        self.total = path.stat().st_size
        self._raw = path.open("rb")
        self._handle = self._text(self._raw)
        self._reader = csv.reader(self._handle, delimiter=delimiter)
        try:
            self.header = next(self._reader)
        except StopIteration:
            self.close()
            raise ImportFailed(f"{path}: the file is empty (a header line is needed)") from None
        except csv.Error as exc:
            self.close()
            raise ImportFailed(f"{path}: the header line is not valid CSV ({exc})") from exc

    @staticmethod
    def _text(raw: Any) -> io.TextIOWrapper:
        return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")

    def sample(self, rows: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        with self._text(self.path.open("rb")) as handle:
            reader = csv.reader(handle, delimiter=self.delimiter)
            try:
                next(reader)
                for fields in reader:
                    if len(out) >= rows:
                        break
                    if len(fields) == len(self.header):
                        out.append(dict(zip(self.header, fields, strict=True)))
            except csv.Error:
                pass  # the rows read so far are the sample; the import reports the bad one
        return out

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> CsvSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def position(self) -> int:
        return self._raw.tell()

    def __iter__(self) -> Iterator[Row]:
        header, width = self.header, len(self.header)
        number, line = 0, self._reader.line_num
        while True:
            try:
                fields = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                number += 1
                error = RowError(f"not valid CSV ({exc})", "not valid CSV")
                yield Row(number, f"row {number} (line {line + 1})", error=error)
                line = self._reader.line_num
                continue
            start, line = line + 1, self._reader.line_num
            if not fields:
                continue  # a blank line
            number += 1
            where = f"row {number} (line {start})"
            try:
                self.delimiter.join(fields).encode("utf-8")
            except UnicodeEncodeError:
                raw = _readable(self.delimiter.join(fields))
                yield Row(number, where, error=RowError("not valid UTF-8"), raw=raw)
                continue
            if len(fields) != width:
                problem = RowError(
                    f"has {len(fields)} fields, the header has {width}",
                    "has another number of fields than the header",
                )
                yield Row(number, where, error=problem, raw=self.delimiter.join(fields))
                continue
            yield Row(number, where, dict(zip(header, fields, strict=True)))


class ParquetSource:
    """A Parquet file read in record batches of the columns the mapping uses."""

    unit = "rows"

    def __init__(self, path: Path, needed: Sequence[str], batch_rows: int = BATCH_ROWS) -> None:
        import pyarrow.parquet as pq

        try:
            self._file = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow raises several types for a file it cannot read
            raise ImportFailed(f"{path}: not a readable Parquet file ({exc})") from exc
        self.path = path
        schema = self._file.schema_arrow
        self.header = list(schema.names)
        self.kinds = {f.name: str(f.type) for f in schema}
        self.columns = sorted(set(needed) & set(self.header))
        self.total = int(self._file.metadata.num_rows)
        self.batch_rows = batch_rows
        self._read = 0

    def position(self) -> int:
        return self._read

    def sample(self, rows: int) -> list[dict[str, Any]]:
        for batch in self._file.iter_batches(batch_size=rows, columns=self.columns):
            return [
                {k: _readable_cell(_cell_or_raw(v)) for k, v in r.items()}
                for r in batch.to_pylist()
            ]
        return []

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ParquetSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Row]:
        number = 0
        for batch in self._file.iter_batches(batch_size=self.batch_rows, columns=self.columns):
            for record in batch.to_pylist():
                number += 1
                self._read = number
                where = f"row {number}"
                try:
                    values = {k: _cell(v) for k, v in record.items()}
                except UnicodeDecodeError:
                    raw = {k: _readable_cell(v) for k, v in record.items()}
                    yield Row(number, where, error=RowError("not valid UTF-8"), raw=raw)
                    continue
                yield Row(number, where, values)


def _cell(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    return value


def _cell_or_raw(value: Any) -> Any:
    try:
        return _cell(value)
    except UnicodeDecodeError:
        return value


def _readable_cell(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def open_source(
    path: Path, needed: Sequence[str], fmt: str | None = None, delimiter: str = ","
) -> CsvSource | ParquetSource:
    """The reader for `path` (Parquet reads only the `needed` columns): by `fmt`, else by its
    suffix (``.parquet``/``.pq``: Parquet). The mapping's checks run before its rows are read."""
    if not path.is_file():
        raise ImportFailed(f"{path}: no such file")
    kind = fmt or ("parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv")
    if kind == "parquet":
        return ParquetSource(path, needed)
    return CsvSource(path, delimiter)
