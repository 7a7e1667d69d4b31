"""Sync error classification and signatures: pure functions shared by collectors and KPIs.

A *signature* is an error message with its variable parts (quoted values, ids, numbers, dates,
UUIDs, e-mail addresses) replaced by placeholders, so that "Customer 'C-0042' has no tax id on
record 8812" and "Customer 'C-0107' has no tax id on record 9120" count as one error. E-mail-like
tokens are replaced even when malformed (`bob@@example`, `x@y`, `"a b"@c.d`, `@example.com`):
the error that reports a bad address is one error whatever the address.
"""

from __future__ import annotations

import re

from store.canonical import ErrorClass

MAX_SIGNATURE = 300
#: Only the start of a message is read: a signature keeps 300 characters, and some patterns
#: take time quadratic in the length of a long run of word characters.
MAX_READ = 2000

#: An e-mail-like token: a local part (plain, or quoted with spaces — a quote right after a word
#: closes a quoted value, it does not open a local part), one or more "@" and
#: whatever domain follows (none, without a dot, or with stray "@"s); or an address whose
#: local part is missing ("@example.com").
_EMAIL = (
    r"""(?:(?<!\w)"[^"\n]{0,64}"|[\w.+%-]+)@+[\w.@-]*"""
    r"""|(?<![\w@])@+[\w-]+(?:\.[\w-]+)+"""
)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(_EMAIL), "<email>"),
    (re.compile(r"https?://\S+"), "<url>"),
    (re.compile(r"\b[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}\b", re.I), "<uuid>"),
    (re.compile(r"\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?)?"), "<ts>"),
    (re.compile(r"'[^']*'|\"[^\"]*\""), "<value>"),
    (re.compile(r"\b(?=[A-Za-z0-9_-]*\d)[A-Za-z][A-Za-z0-9_]*[-_][A-Za-z0-9_-]+\b"), "<id>"),
    (re.compile(r"\b(?=[A-Za-z0-9]*\d)[A-Za-z0-9]{15,18}\b"), "<id>"),
    (re.compile(r"\b[0-9a-f]{12,}\b", re.I), "<hex>"),
    (re.compile(r"[-+]?\d+([.,]\d+)*"), "<n>"),
)
_SPACE = re.compile(r"\s+")


def signature(message: str | None) -> str | None:
    """The message with ids, numbers and quoted values normalised away (None stays None)."""
    if not message:
        return None
    text = message[:MAX_READ].strip()
    for pattern, placeholder in _PATTERNS:
        text = pattern.sub(placeholder, text)
    return _SPACE.sub(" ", text)[:MAX_SIGNATURE]


_BY_CODE: dict[str, ErrorClass] = {
    "ETIMEDOUT": ErrorClass.TIMEOUT,
    "ESOCKETTIMEDOUT": ErrorClass.TIMEOUT,
    "TIMEOUT": ErrorClass.TIMEOUT,
    "ECONNREFUSED": ErrorClass.CONNECTION,
    "ECONNRESET": ErrorClass.CONNECTION,
    "ENOTFOUND": ErrorClass.CONNECTION,
    "EAI_AGAIN": ErrorClass.CONNECTION,
    "VALIDATION": ErrorClass.VALIDATION,
    "MISSING_DATA": ErrorClass.VALIDATION,
    "DUPLICATE": ErrorClass.DUPLICATE,
    "PARSE": ErrorClass.PARSE,
    "AUTH": ErrorClass.AUTH,
}
_BY_WORDS: tuple[tuple[re.Pattern[str], ErrorClass], ...] = (
    (re.compile(r"time(d)?[ -]?out|ETIMEDOUT", re.I), ErrorClass.TIMEOUT),
    (re.compile(r"rate.?limit|too many requests|throttl", re.I), ErrorClass.RATE_LIMIT),
    (
        re.compile(r"unauthori[sz]ed|forbidden|invalid.*(token|credential|session)|expired", re.I),
        ErrorClass.AUTH,
    ),
    (re.compile(r"duplicate|already exists", re.I), ErrorClass.DUPLICATE),
    (re.compile(r"server error|service unavailable|bad gateway", re.I), ErrorClass.SERVER),
    (
        re.compile(
            r"ECONN|ENOTFOUND|EAI_AGAIN|getaddrinfo|connection|unreachable|DNS|socket hang up", re.I
        ),
        ErrorClass.CONNECTION,
    ),
    (re.compile(r"parse|malformed|unexpected token|invalid json|decode", re.I), ErrorClass.PARSE),
    (
        re.compile(r"required|missing|invalid|not found|unknown|must be|no tax id", re.I),
        ErrorClass.VALIDATION,
    ),
)


def classify(code: str | None, http_status: int | None, message: str | None) -> ErrorClass:
    """The error class of a failed attempt from its code, HTTP status and message.

    A known code decides first (``ECONNREFUSED`` → connection), then the HTTP status (5xx →
    server, but 504 → timeout; 429 → rate limit), then words of the message."""
    if code:
        known = _BY_CODE.get(code.upper())
        if known is not None:
            return known
    if http_status is not None:
        if http_status == 429:
            return ErrorClass.RATE_LIMIT
        if http_status in (401, 403):
            return ErrorClass.AUTH
        if http_status in (408, 504):
            return ErrorClass.TIMEOUT
        if 500 <= http_status <= 599:
            return ErrorClass.SERVER
        if http_status == 409:
            return ErrorClass.DUPLICATE
        if http_status in (400, 404, 422):
            return ErrorClass.VALIDATION
    for pattern, error_class in _BY_WORDS:
        if message and pattern.search(message[:MAX_READ]):
            return error_class
    return ErrorClass.UNKNOWN
