"""Money in the reporting currency, from the daily FX rates table.

A row of `fx_rates` says: on `day`, one `base` buys `rate` units of `quote`. To convert an
amount in currency C on day D into the reporting currency R, the rate C→R of day D is used:
direct (base C, quote R), inverted (base R, quote C) or crossed through a third currency both
are quoted in. When day D has no rate, the latest earlier day within `max_age_days` is used and
the gap is reported; with none, the amount stays unconverted (NaN) and is reported as missing —
never a silent zero. `import_fx_csv` loads rates from a CSV file for real use.
"""

from __future__ import annotations

import bisect
import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Engine, select

from foundation.currencies import CURRENCIES
from metrics.facts import write_and_refresh
from store.canonical import Batch, FxRateRow
from store.checks import MAX_RATE
from store.tables import FxRate

DEFAULT_MAX_AGE_DAYS = 7


@dataclass(frozen=True, slots=True)
class FxIssue:
    """A data-quality issue: no rate for `currency` → reporting currency on `day`."""

    currency: str
    day: date
    used_day: date | None

    def __str__(self) -> str:
        if self.used_day is None:
            return f"no {self.currency} rate on or before {self.day}: amounts left unconverted"
        return f"no {self.currency} rate on {self.day}: used the rate of {self.used_day}"


class FxTable:
    """Daily rates into one reporting currency, built from `(day, base, quote, rate)` rows."""

    def __init__(
        self,
        rows: Iterable[tuple[date, str, str, Decimal | float]],
        reporting: str,
        max_age_days: int = DEFAULT_MAX_AGE_DAYS,
    ) -> None:
        self.reporting = reporting.upper()
        self.max_age = timedelta(days=max_age_days)
        by_day: dict[date, dict[tuple[str, str], float]] = defaultdict(dict)
        for day, base, quote, rate in rows:
            if rate and float(rate) > 0:
                by_day[day][(base.upper(), quote.upper())] = float(rate)
        series: dict[str, list[tuple[date, float]]] = defaultdict(list)
        for day in sorted(by_day):
            for currency, rate in _to_reporting(by_day[day], self.reporting).items():
                series[currency].append((day, rate))
        self._days = {c: [d for d, _ in s] for c, s in series.items()}
        self._rates = {c: [r for _, r in s] for c, s in series.items()}

    def rate(self, currency: str | None, day: date) -> tuple[float, FxIssue | None]:
        """The rate currency → reporting on `day` (NaN when missing) and the issue, if any."""
        if not currency:
            return float("nan"), None
        currency = currency.upper()
        if currency == self.reporting:
            return 1.0, None
        days = self._days.get(currency, [])
        i = bisect.bisect_right(days, day) - 1
        if i < 0 or day - days[i] > self.max_age:
            return float("nan"), FxIssue(currency, day, None)
        issue = None if days[i] == day else FxIssue(currency, day, days[i])
        return self._rates[currency][i], issue

    def convert(
        self,
        amounts: Sequence[float] | npt.NDArray[np.float64],
        currencies: Sequence[str | None],
        days: Sequence[date],
    ) -> tuple[npt.NDArray[np.float64], list[FxIssue]]:
        """Amounts in the reporting currency (NaN where no rate) and the distinct issues."""
        rates = np.empty(len(currencies))
        issues: dict[tuple[str, date], FxIssue] = {}
        cache: dict[tuple[str | None, date], float] = {}
        for i, (currency, day) in enumerate(zip(currencies, days, strict=True)):
            key = (currency, day)
            if key not in cache:
                cache[key], issue = self.rate(currency, day)
                if issue is not None:
                    issues[(issue.currency, issue.day)] = issue
            rates[i] = cache[key]
        values = np.asarray(amounts, dtype=float) * rates
        return values, [issues[k] for k in sorted(issues)]


def _to_reporting(rates: dict[tuple[str, str], float], reporting: str) -> dict[str, float]:
    """Units of `reporting` per unit of each currency, from one day's quotes."""
    out: dict[str, float] = {}
    for (base, quote), rate in rates.items():
        if quote == reporting:
            out[base] = rate
        elif base == reporting:
            out.setdefault(quote, 1 / rate)
    via: dict[str, dict[str, float]] = defaultdict(dict)
    for (base, quote), rate in rates.items():
        via[quote][base] = rate
    for quoted in via.values():
        if reporting in quoted:
            for currency, rate in quoted.items():
                if currency != reporting:
                    out.setdefault(currency, rate / quoted[reporting])
    out.pop(reporting, None)
    return out


def load_fx(
    conn: Connection | Engine,
    reporting: str,
    first: date | None = None,
    last: date | None = None,
    max_age_days: int = DEFAULT_MAX_AGE_DAYS,
) -> FxTable:
    """The FX table for `[first - max_age_days, last]` (every day when not given)."""
    query = select(FxRate.day, FxRate.base, FxRate.quote, FxRate.rate)
    if first is not None:
        query = query.where(FxRate.day >= first - timedelta(days=max_age_days))
    if last is not None:
        query = query.where(FxRate.day <= last)
    if isinstance(conn, Engine):
        with conn.connect() as c:
            rows = list(c.execute(query).all())
    else:
        rows = list(conn.execute(query).all())
    return FxTable(rows, reporting, max_age_days)


class FxCsvError(ValueError):
    """A rates file that cannot be read; the message names the file and the line."""


def read_fx_csv(
    path: Path, source_system: str = "csv", today: date | None = None
) -> list[FxRateRow]:
    """Rates from a CSV file with the header `day,base,quote,rate` (one `base` = `rate` `quote`).

    Anything unusable is an `FxCsvError` naming the file, the line and the field; nothing is
    read from a file with an error. Refused: text that is not UTF-8 (a BOM is fine), a header
    without those columns or with one twice, a row with more or fewer fields, a day that is not
    a date or lies before 1970 or more than a year after `today`, a rate that is not a positive
    number that fits (10 digits before the point), a currency that is not an ISO 4217 code, a
    base equal to its quote, and a day and pair given twice with different rates."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FxCsvError(
            f"{path}, line {line}: not UTF-8 text (byte {data[exc.start]:#04x})"
        ) from exc
    latest = (today or date.today()) + timedelta(days=366)
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[FxRateRow] = []
    seen: dict[tuple[date, str, str], tuple[int, Decimal]] = {}
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        missing = {"day", "base", "quote", "rate"} - set(header)
        if missing:
            raise FxCsvError(f"{path}: the header lacks {', '.join(sorted(missing))}")
        twice = sorted({name for name in header if header.count(name) > 1})
        if twice:
            raise FxCsvError(f"{path}, line 1: the header names {', '.join(twice)} twice")
        for values in reader:
            line = reader.line_num
            if not values:
                continue
            if len(values) != len(header):
                raise FxCsvError(
                    f"{path}, line {line}: {len(values)} fields, the header has {len(header)}"
                )
            record = dict(zip(header, (v.strip() for v in values), strict=True))
            row = _fx_row(record, source_system, latest, f"{path}, line {line}")
            key = (row.day, row.base, row.quote)
            earlier = seen.setdefault(key, (line, row.rate))
            if earlier[1] != row.rate:
                raise FxCsvError(
                    f"{path}, line {line}: {row.day} {row.base}/{row.quote} has rate {row.rate}"
                    f" here and {earlier[1]} on line {earlier[0]}"
                )
            rows.append(row)
    except csv.Error as exc:
        raise FxCsvError(f"{path}, line {reader.line_num}: not valid CSV ({exc})") from exc
    return rows


def _fx_row(record: dict[str, str], source_system: str, latest: date, where: str) -> FxRateRow:
    try:
        day = date.fromisoformat(record["day"])
    except ValueError as exc:
        raise FxCsvError(f"{where}: day {record['day']!r:.40} is not a date (YYYY-MM-DD)") from exc
    if not date(1970, 1, 1) < day <= latest:
        raise FxCsvError(f"{where}: day {day} is before 1970 or more than a year ahead")
    try:
        rate = Decimal(record["rate"])
    except InvalidOperation as exc:
        raise FxCsvError(f"{where}: rate {record['rate']!r:.40} is not a number") from exc
    if not (rate.is_finite() and 0 < rate < MAX_RATE):
        raise FxCsvError(
            f"{where}: rate {record['rate']!r:.40} must be a positive number below 1e10"
        )
    base, quote = record["base"].upper(), record["quote"].upper()
    for name, code in (("base", base), ("quote", quote)):
        if code not in CURRENCIES:
            raise FxCsvError(f"{where}: {name} {code!r:.40} is not an ISO 4217 currency code")
    if base == quote:
        raise FxCsvError(f"{where}: base and quote are both {base}")
    return FxRateRow(day, base, quote, rate, source_system)


def import_fx_csv(engine: Engine, path: Path, source_system: str = "csv") -> int:
    """Store the rates of a CSV file (upserted by day, base and quote); rows read."""
    rows = read_fx_csv(path, source_system)
    write_and_refresh(engine, Batch(fx_rates=rows))
    return len(rows)
