"""uvicorn's httptools protocol, sending each response's head and body in one write.

uvicorn writes the status line and headers when the app sends `http.response.start` and the
body when it sends `http.response.body`: two system calls and two TCP segments for every
small JSON answer, which is most of them. Here the head is held back until the first body
write (or the end of the response, or the connection closing) and goes out with it.
Only a bare head is held (a write that already carries a body goes out as it is), and never
an interim `1xx` answer (`100 Continue`): the client waits for it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_HEAD_PREFIX = b"HTTP/1.1 "
_INTERIM = ord("1")
_HEAD_END = b"\r\n\r\n"


class _CoalescingTransport:
    """Forwards everything to the real transport; holds a response head for the next write."""

    __slots__ = ("_held", "_transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + data)
        elif (
            data[:9] == _HEAD_PREFIX
            and len(data) > 9
            and data[9] != _INTERIM
            and data[-4:] == _HEAD_END
        ):
            self._held = bytes(data)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    # What uvicorn calls on every request, without going through __getattr__.
    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = _CoalescingTransport(transport)  # type: ignore[assignment]

    def on_response_complete(self) -> None:
        # A response without body writes (HEAD, or an empty body) is complete here.
        transport = self.transport
        if isinstance(transport, _CoalescingTransport):
            transport.flush()
        super().on_response_complete()
