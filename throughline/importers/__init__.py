"""Import history from files: OCEL 2.0 logs and flat CSV/Parquet event logs.

Both go through the collectors' write path (`store.write.write_batch`: bulk, idempotent, case
facts refreshed in the same transaction), in batches with flat memory, and are logged in the run
log like a collector run (kind ``import``). A mapping is checked against the file before any row
is read; an import that quarantines most rows fails. See `ocel` and `events`.
"""

from throughline.importers.events import import_events, load_event_log_mapping
from throughline.importers.mapping_file import ImportFailed, MappingFileError
from throughline.importers.ocel import import_ocel
from throughline.importers.ocel_mapping import load_ocel_mapping
from throughline.importers.report import ImportRejected, ImportReport

__all__ = [
    "ImportFailed",
    "ImportRejected",
    "ImportReport",
    "MappingFileError",
    "import_events",
    "import_ocel",
    "load_event_log_mapping",
    "load_ocel_mapping",
]
