"""A dashboard session at the protocol level: what a browser tab sends, without rendering.

Streamlit's front end talks to the server over one WebSocket (``/_stcore/stream``, subprotocol
``streamlit``) in protobuf: it sends a `BackMsg` asking to run a page with a query string, and
the server runs the page's script for that session and streams `ForwardMsg`s back, ending with
``script_finished``. This client does the same, so a load test can hold twenty sessions open on
a two-core machine without twenty renderers competing with the server for the CPU.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import ClientConnection, connect

FINISHED = ForwardMsg.ScriptFinishedStatus


@dataclass
class PageRun:
    """One page run as the server delivered it."""

    page: str
    seconds: float
    elements: int
    exceptions: list[str] = field(default_factory=list)


class ProtocolSession:
    """One Streamlit session over its WebSocket: `run(page)` and time the whole answer."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.stream_url = f"ws://{parts.netloc}/_stcore/stream"
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self._socket: ClientConnection | None = None

    async def __aenter__(self) -> ProtocolSession:
        self._socket = await connect(
            self.stream_url,
            subprotocols=["streamlit"],  # type: ignore[list-item]
            origin=self.origin,  # type: ignore[arg-type]
            max_size=64 * 2**20,
            open_timeout=60,
        )
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._socket is not None:
            await self._socket.close()

    async def run(self, page: str, query: str = "", timeout: float = 120) -> PageRun:
        """Ask for `page` (its URL path; "" for the default page) and wait until its script has
        finished; a page whose run was cut short by an automatic rerun is waited out."""
        assert self._socket is not None, "use `async with`"
        message = BackMsg()
        message.rerun_script.query_string = query
        message.rerun_script.page_name = page
        started = time.perf_counter()
        await self._socket.send(message.SerializeToString())
        result = PageRun(page, 0.0, 0)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{page or 'overview'} did not finish within {timeout:.0f} s")
            forward = ForwardMsg()
            forward.ParseFromString(await _receive(self._socket, remaining))
            kind = forward.WhichOneof("type")
            if kind == "delta" and forward.delta.WhichOneof("type") == "new_element":
                result.elements += 1
                element = forward.delta.new_element
                if element.WhichOneof("type") == "exception":
                    result.exceptions.append(element.exception.message)
            elif kind == "script_finished" and forward.script_finished in (
                FINISHED.FINISHED_SUCCESSFULLY,
                FINISHED.FINISHED_WITH_COMPILE_ERROR,
            ):
                result.seconds = time.perf_counter() - started
                return result


async def _receive(socket: ClientConnection, timeout: float) -> bytes:
    data = await asyncio.wait_for(socket.recv(), timeout)
    return data if isinstance(data, bytes) else data.encode()
