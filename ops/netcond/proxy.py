"""The conditioner itself: an asyncio TCP proxy that shapes each direction of every connection.

Per direction, bytes are cut into segments of one TCP payload (MSS) and each segment is given a
delivery time: serialised through a token bucket (bandwidth), then carried for the one-way delay
plus uniform jitter. Delivery times never go backwards, because TCP delivers in order: a late
segment holds back the ones behind it, exactly like head-of-line blocking on a real link.

Loss cannot be dropped on the floor here (the proxy sits above TCP, which would never notice),
so a "lost" segment is delivered after an extra stall, the retransmission timeout a real TCP
sender would wait. A reset aborts both sides of the connection with RST (SO_LINGER 0) at the
moment the doomed segment would have arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import random
import socket
import struct
from dataclasses import dataclass, field

from ops.netcond.bucket import TokenBucket
from ops.netcond.profiles import Direction, Profile

MSS = 1448  # an Ethernet MTU's TCP payload with timestamps: the unit that is lost or delayed
READ_SIZE = 64 * 1024
# ~6 MB queued per direction: more than any preset's bandwidth-delay product.
MAX_QUEUED_SEGMENTS = 4096
CONNECT_TIMEOUT_S = 10.0


class LinkReset(Exception):
    """The emulated link reset the connection."""


@dataclass
class DirectionStats:
    """What one direction carried, summed over all connections."""

    bytes: int = 0
    segments: int = 0
    stalls: int = 0
    resets: int = 0


@dataclass
class ConditionerStats:
    connections: int = 0
    failed_connects: int = 0
    uplink: DirectionStats = field(default_factory=DirectionStats)
    downlink: DirectionStats = field(default_factory=DirectionStats)

    def summary(self) -> str:
        return (
            f"connections={self.connections} failed_connects={self.failed_connects} "
            f"uplink bytes={self.uplink.bytes} stalls={self.uplink.stalls} "
            f"resets={self.uplink.resets} "
            f"downlink bytes={self.downlink.bytes} stalls={self.downlink.stalls} "
            f"resets={self.downlink.resets}"
        )


class _Marker(enum.Enum):
    """Queue entries that are not payload."""

    EOF = "the sender closed its side"
    LINK_RESET = "the emulated link resets the connection here"
    PEER_ERROR = "the sending peer's socket failed"


class _Shaper:
    """Gives each segment of one direction of one connection its delivery time."""

    def __init__(self, direction: Direction, rng: random.Random) -> None:
        self.direction = direction
        self.rng = rng
        rate = direction.bytes_per_second
        self.bucket = None if rate is None else TokenBucket(rate=rate, burst=MSS)
        self._last_delivery = 0.0

    @property
    def last_delivery(self) -> float:
        return self._last_delivery

    def schedule(self, size: int, now: float) -> tuple[float, bool]:
        """(delivery time, stalled) for a segment of `size` bytes read at `now`."""
        d = self.direction
        departure = now if self.bucket is None else self.bucket.reserve(size, now)
        delay = d.delay_ms
        if d.jitter_ms:
            delay = max(0.0, delay + self.rng.uniform(-d.jitter_ms, d.jitter_ms))
        delivery = departure + delay / 1000
        stalled = d.loss > 0 and self.rng.random() < d.loss
        if stalled:
            delivery += d.loss_stall_ms / 1000
        delivery = max(delivery, self._last_delivery)
        self._last_delivery = delivery
        return delivery, stalled

    def doomed(self) -> bool:
        return self.direction.reset > 0 and self.rng.random() < self.direction.reset


def _abort_with_rst(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, asyncio.CancelledError):
        await writer.wait_closed()


class Conditioner:
    """A listening proxy to `target` that applies `profile` to every connection.

    Use as `async with Conditioner(("127.0.0.1", 8000), get_profile("lte")) as proxy:` and
    connect to `proxy.port`. `seed` makes jitter, loss and resets reproducible.
    """

    def __init__(
        self,
        target: tuple[str, int],
        profile: Profile,
        listen: tuple[str, int] = ("127.0.0.1", 0),
        seed: int | None = None,
    ) -> None:
        self.target = target
        self.profile = profile
        self.listen = listen
        self.rng = random.Random(seed)
        self.stats = ConditionerStats()
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError("the conditioner is not started")
        host, port = self._server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    @property
    def port(self) -> int:
        return self.address[1]

    async def start(self) -> None:
        host, port = self.listen
        self._server = await asyncio.start_server(self._on_connect, host, port, limit=READ_SIZE)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def __aenter__(self) -> Conditioner:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _on_connect(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._relay(client_reader, client_writer)
        except asyncio.CancelledError:
            # Only close() cancels a handler, and the connection is already aborted by then;
            # ending quietly keeps asyncio's stream callback from logging the cancellation.
            pass
        finally:
            self._handlers.discard(task)

    async def _relay(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        self.stats.connections += 1
        try:
            upstream_reader, upstream_writer = await asyncio.wait_for(
                asyncio.open_connection(*self.target, limit=READ_SIZE), CONNECT_TIMEOUT_S
            )
        except (OSError, TimeoutError):
            self.stats.failed_connects += 1
            _abort_with_rst(client_writer)
            return
        uplink = asyncio.create_task(
            self._pipe(self.profile.uplink, self.stats.uplink, client_reader, upstream_writer)
        )
        downlink = asyncio.create_task(
            self._pipe(self.profile.downlink, self.stats.downlink, upstream_reader, client_writer)
        )
        try:
            done, pending = await asyncio.wait(
                {uplink, downlink}, return_when=asyncio.FIRST_EXCEPTION
            )
        except asyncio.CancelledError:
            uplink.cancel()
            downlink.cancel()
            await asyncio.gather(uplink, downlink, return_exceptions=True)
            _abort_with_rst(client_writer)
            _abort_with_rst(upstream_writer)
            raise
        failed = [t for t in done if t.exception() is not None]
        if failed:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            _abort_with_rst(client_writer)
            _abort_with_rst(upstream_writer)
            return
        await asyncio.gather(_close(client_writer), _close(upstream_writer))

    async def _pipe(
        self,
        direction: Direction,
        stats: DirectionStats,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        """Carry one direction until EOF; raise LinkReset or OSError when the connection dies."""
        shaper = _Shaper(direction, self.rng)
        queue: asyncio.Queue[tuple[float, bytes | _Marker]] = asyncio.Queue(MAX_QUEUED_SEGMENTS)
        loop = asyncio.get_running_loop()

        async def ingest() -> None:
            while True:
                try:
                    data = await reader.read(READ_SIZE)
                except OSError:
                    await queue.put((loop.time(), _Marker.PEER_ERROR))
                    return
                now = loop.time()
                if not data:
                    await queue.put((max(now, shaper.last_delivery), _Marker.EOF))
                    return
                for start in range(0, len(data), MSS):
                    segment = data[start : start + MSS]
                    delivery, stalled = shaper.schedule(len(segment), now)
                    if shaper.doomed():
                        await queue.put((delivery, _Marker.LINK_RESET))
                        return
                    if stalled:
                        stats.stalls += 1
                    await queue.put((delivery, segment))

        async def deliver() -> None:
            while True:
                due, segment = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if segment is _Marker.LINK_RESET:
                    stats.resets += 1
                    raise LinkReset("the emulated link reset the connection")
                if segment is _Marker.PEER_ERROR:
                    raise ConnectionResetError("the other side of the connection failed")
                if segment is _Marker.EOF:
                    if writer.can_write_eof():
                        with contextlib.suppress(OSError):
                            writer.write_eof()
                    return
                writer.write(segment)
                stats.bytes += len(segment)
                stats.segments += 1
                await writer.drain()

        ingest_task = asyncio.create_task(ingest())
        try:
            await deliver()
        finally:
            ingest_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await ingest_task
