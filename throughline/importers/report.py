"""What an import did, counted: rows read, stored, skipped and quarantined (by reason), and
when the import as a whole fails although every batch was stored."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from store.write import WriteResult
from throughline.importers.mapping_file import ImportFailed

MAX_QUARANTINED = 0.5  # an import quarantining a larger share of its rows fails
TOP_REASONS = 5
_MAX_KINDS = 1_000  # distinct reasons counted; more fold into "other reasons"


@dataclass(slots=True)
class ImportReport:
    """What one import did: rows read, rows the store gained or changed, rows quarantined (and
    why, counted by reason)."""

    collector: str
    run_id: int
    rows_read: int = 0
    quarantined: int = 0
    skipped: int = 0
    written: WriteResult = field(default_factory=WriteResult)
    reasons: Counter[str] = field(default_factory=Counter)
    status: str = "running"
    error: str | None = None

    def count(self, kind: str) -> None:
        """Count one quarantined row under its reason."""
        self.quarantined += 1
        if kind in self.reasons or len(self.reasons) < _MAX_KINDS:
            self.reasons[kind] += 1
        else:
            self.reasons["other reasons"] += 1

    def summary(self) -> str:
        """One sentence for the command line."""
        w = self.written
        skipped = f", {self.skipped} skipped by the mapping" if self.skipped else ""
        extra = "".join(
            f", {n} {label}"
            for n, label in ((w.sync_attempts, "sync attempts"), (w.fx_rates, "FX rates"))
            if n
        )
        return (
            f"{self.rows_read} rows read; new or changed: {w.events} events, {w.objects} "
            f"objects, {w.event_objects} event-object and {w.links} object-object "
            f"relations{extra}; {self.quarantined} quarantined{skipped}"
        )

    def reason_lines(self, top: int = TOP_REASONS) -> list[str]:
        """The most frequent quarantine reasons, one line each: ``  1,204 × reason``."""
        shown = self.reasons.most_common(top if len(self.reasons) > top + 1 else top + 1)
        lines = [f"  {n:,} × {kind}" for kind, n in shown]
        rest = self.quarantined - sum(n for _, n in shown)
        if rest > 0:
            lines.append(f"  {rest:,} × other reasons")
        return lines

    def reasons_text(self) -> str:
        """The quarantine reasons for the command line ("" when nothing was quarantined)."""
        if not self.quarantined:
            return ""
        return "\n".join(["quarantined, by reason:", *self.reason_lines()])

    def failure(self, max_share: float = MAX_QUARANTINED) -> str | None:
        """Why the import as a whole failed although every batch was stored: it read nothing,
        quarantined more than `max_share` of the rows read, or every row it did not skip."""
        read, kept = self.rows_read, self.rows_read - self.skipped
        if read == 0:
            return "nothing to import: the file holds no rows"
        if kept == 0:
            return f"nothing to import: the mapping skips all {read:,} rows"
        share = self.quarantined / read
        if share <= max_share and self.quarantined < kept:
            return None
        why = (
            f"({share:.0%}, more than {max_share:.0%})"
            if share > max_share
            else "(every row the mapping does not skip)"
        )
        return "\n".join(
            [
                f"{self.quarantined:,} of {read:,} rows quarantined {why}: the import failed (rows "
                "already stored stay; importing again after fixing the mapping stores nothing "
                "twice). Top reasons:",
                *self.reason_lines(),
            ]
        )


class ImportRejected(ImportFailed):
    """The import ran but read nothing or quarantined most rows; `report` says what it did."""

    def __init__(self, message: str, report: ImportReport) -> None:
        super().__init__(message)
        self.report = report
