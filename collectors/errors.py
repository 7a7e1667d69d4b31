"""The errors a collector raises on purpose, one small tree.

::

    CollectorError            anything a collector reports instead of crashing
    ├── SourceUnavailable     cannot reach the source now: connection error, timeout,
    │                         429/5xx after the retries ran out, or a Retry-After too long
    ├── AuthFailed            401/403: the credentials were refused (never retried)
    ├── SchemaDrift           the response is not in the expected shape (not JSON, a member missing)
    ├── PageRejected          a page that is not (all of) the answer to the query asked: empty yet
    │   │                     pointing to a next page, contradicting its declared size or total,
    │   │                     or holding records of another query (type, columns, time window);
    │   │                     nothing of it is stored and the cursor stays where it was
    │   └── PaginationLoop    a page asked for twice (same token, offset or URL), a record read
    │                         twice in one walk (a stale page, a source that restarted its
    │                         paging), or the page cap exceeded
    ├── RequestRejected       any other 4xx: the source refused this request (status, body excerpt)
    ├── DataLost              records were gone before they could be read (a rotated log file
    │                         deleted too soon); what could be read is stored
    └── MappingError          one record cannot be mapped to canonical rows (it is quarantined)

Messages are sentences for the run log and the admin page. They never contain credentials:
URLs are redacted (see ``foundation.http.redact_url``) and headers are never quoted.

Apart from the tree, ``ConfigurationError`` (a ``ValueError``) is raised before anything is
collected: a connector's setting, secret or option is missing or wrong.
"""

from __future__ import annotations

from foundation.http import Unavailable


class ConfigurationError(ValueError):
    """A missing or wrong setting, secret or connector option: one sentence naming the variable
    (``THROUGHLINE_…``) or the file, connector and option to fix."""


class CollectorError(Exception):
    """Base of every error a collector raises on purpose."""


class SourceUnavailable(CollectorError, Unavailable):
    """The source cannot serve us now; a later run may succeed (``attempts`` made, the
    ``retry_after`` it asked for)."""


class AuthFailed(CollectorError):
    """The source refused the credentials (HTTP 401 or 403)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class SchemaDrift(CollectorError):
    """A response is not in the shape the collector expects."""


class PageRejected(CollectorError):
    """A page is not the answer to the query the walk asked, or not all of it (see `page_checks`).

    ``stream`` names the stream (or lookup) the walk read for, ``page`` counts from 1."""

    def __init__(self, message: str, *, stream: str | None = None, page: int | None = None) -> None:
        super().__init__(message)
        self.stream = stream
        self.page = page


class PaginationLoop(PageRejected):
    """Paging would not end or goes back: a page or a record came twice, or too many pages."""


class RequestRejected(CollectorError):
    """The source rejected the request with a 4xx other than 401, 403 and 429."""

    def __init__(self, message: str, *, status: int | None = None, excerpt: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.excerpt = excerpt


class DataLost(CollectorError):
    """Source records were gone before they could be read; the rest of the stream was stored."""


class MappingError(CollectorError):
    """One source record cannot be mapped; the record is quarantined with ``reason``."""

    def __init__(self, reason: str, *, record_id: str | None = None) -> None:
        super().__init__(reason if record_id is None else f"record {record_id}: {reason}")
        self.reason = reason
        self.record_id = record_id
