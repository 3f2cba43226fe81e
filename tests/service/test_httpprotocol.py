"""service.httpprotocol: a response's head and body leave in one write, nothing is lost."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn

from service.httpprotocol import CoalescingHttpToolsProtocol, _CoalescingTransport

pytestmark = pytest.mark.anyio

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1)}.get(name, default)


def coalescing() -> tuple[_CoalescingTransport, RecordingTransport]:
    raw = RecordingTransport()
    return _CoalescingTransport(raw), raw  # type: ignore[arg-type]


def test_head_goes_out_with_the_body_in_one_write() -> None:
    transport, raw = coalescing()
    transport.write(HEAD)
    assert raw.writes == []
    transport.write(b"{}")
    assert raw.writes == [HEAD + b"{}"]


def test_interim_answers_and_complete_responses_are_not_held() -> None:
    transport, raw = coalescing()
    transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    transport.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 3\r\n\r\nbad")
    assert raw.writes == [
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 400 Bad Request\r\ncontent-length: 3\r\n\r\nbad",
    ]


def test_closing_and_flushing_send_a_held_head() -> None:
    transport, raw = coalescing()
    transport.write(HEAD)
    transport.flush()
    assert raw.writes == [HEAD]
    transport.write(HEAD)
    transport.close()
    assert raw.writes == [HEAD, HEAD] and raw.closed
    assert transport.get_extra_info("peername") == ("127.0.0.1", 1)


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    answer = body or b"hello"
    await send({
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-length", str(len(answer)).encode())],
    })
    await send({"type": "http.response.body", "body": answer})


@contextlib.asynccontextmanager
async def serving() -> AsyncIterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        echo_app, host="127.0.0.1", port=port, http=CoalescingHttpToolsProtocol,
        log_config=None, access_log=False, lifespan="off",
    )
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        yield port
    finally:
        server.should_exit = True
        await task


async def read_response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = int(next(
        line.split(b":")[1] for line in head.split(b"\r\n") if line.startswith(b"content-length")
    ))
    body = await asyncio.wait_for(reader.readexactly(length), 5) if length else b""
    return head, body


async def test_a_real_server_answers_get_head_keep_alive_and_expect_continue() -> None:
    async with serving() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            head, body = await read_response(reader)
            assert head.startswith(b"HTTP/1.1 200") and body == b"hello"

            # HEAD: no body write at all; the head must still leave.
            writer.write(b"HEAD / HTTP/1.1\r\nhost: x\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"HTTP/1.1 200")

            # Expect: 100-continue: the interim answer arrives before the body is sent.
            writer.write(
                b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\nexpect: 100-continue\r\n\r\n"
            )
            interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert interim.startswith(b"HTTP/1.1 100")
            writer.write(b"ping")
            head, body = await read_response(reader)
            assert head.startswith(b"HTTP/1.1 200") and body == b"ping"
        finally:
            writer.close()
