"""The request handler the loopback servers of the resilience tests share."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from typing import Any


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1, headers and body sent at once (no 40 ms Nagle wait between them), nothing
    logged (URLs and headers may carry tokens); GET and POST go to ``serve`` with the body."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self.serve("GET", self._body())

    def do_POST(self) -> None:
        self.serve("POST", self._body())

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def serve(self, method: str, body: bytes) -> None:
        raise NotImplementedError
