"""Group commit for map writes: concurrent upserts that would wait for a connection share one.

When every pooled connection is busy, a write does not queue alone. The first one to find the
pool busy leads a batch and waits for a connection; writes arriving meanwhile join its batch;
when the connection comes, the batch is sealed and written with one multi-row upsert (the
same `ON CONFLICT ... WHERE stored.updated_at < excluded.updated_at RETURNING` statement over
arrays). Each write still costs its caller one round trip and waits no longer than it would
have for a connection, but the database parses, locks and commits once per batch instead of
once per write, and the worker sends and decodes one message. When a connection is free,
a write runs alone at once: no added latency at low load.

What each caller sees is what it would have seen alone:
- a batch never holds two writes to the same row (the second runs on its own), so
  last-writer-wins is decided by the database exactly as for single writes;
- if the database refuses the batch (one write names an unknown practice, say), the store
  retries each write alone, so only the offending one fails;
- if the batch's connection breaks or times out, every member gets that error, as each would
  have on its own connection; if the leader fails before it has a connection, the others go
  back to writing on their own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

Row = Mapping[str, Any]
Key = tuple[str, str]
Params = Mapping[str, Any]
# A write's outcome: the stored row when applied, None when a newer one is stored, or the
# exception writing it alone would have raised.
Outcome = Row | None | BaseException

Lease = TypeVar("Lease")


class _Orphaned(Exception):
    """The batch's leader failed before it had a connection: write on your own."""


class BatchInterrupted(ConnectionResetError):
    """The batch's statement was interrupted: its outcome is unknown, like a lost connection."""


def row_key(params: Params) -> Key:
    return (params["user_id"], params["practice_id"])


class WriteBatch:
    """Writes waiting together for one connection; the leader's is first."""

    def __init__(self, leader: Params, capacity: int) -> None:
        self.capacity = capacity
        self.params: list[Params] = [leader]
        self.keys: set[Key] = {row_key(leader)}
        self.followers: list[asyncio.Future[Row | None]] = []
        self.sealed = False

    def accepts(self, key: Key) -> bool:
        return not self.sealed and len(self.params) < self.capacity and key not in self.keys

    def join(self, params: Params, key: Key) -> asyncio.Future[Row | None]:
        future: asyncio.Future[Row | None] = asyncio.get_running_loop().create_future()
        self.params.append(params)
        self.keys.add(key)
        self.followers.append(future)
        return future

    def settle(self, outcomes: Sequence[Outcome]) -> Row | None:
        """Hand each follower its outcome; return the leader's (or raise its error)."""
        if len(outcomes) != len(self.params):
            error = RuntimeError(f"{len(outcomes)} outcomes for a batch of {len(self.params)}")
            self.fail(error)
            raise error
        for future, outcome in zip(self.followers, outcomes[1:], strict=True):
            if future.done():  # that caller was cancelled meanwhile
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
        own = outcomes[0]
        if isinstance(own, BaseException):
            raise own
        return own

    def fail(self, error: Exception) -> None:
        for future in self.followers:
            if not future.done():
                future.set_exception(error)


class WriteSlots:
    """How many write statements may be in flight at once; callers beyond that wait in
    order. A slot is handed straight to the next waiter when released."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"the write concurrency must be at least 1, got {limit}")
        self.limit = limit
        self.in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    def free(self) -> bool:
        return self.in_flight < self.limit

    async def take(self) -> None:
        if self.in_flight < self.limit:
            self.in_flight += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.give_back()  # handed a slot just as the caller was cancelled: pass it on
            else:
                waiter.cancel()
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    def give_back(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes on: in_flight stays the same
                return
        self.in_flight -= 1


class WriteCoalescer(Generic[Lease]):
    """Decides, per write, whether it runs alone, leads a batch or joins one.

    At most `concurrency` write statements are in flight at once. A write that finds a slot
    and a connection free runs alone (`run_one(params)`: it acquires its own connection).
    Otherwise it joins the open batch, or opens one and leads it: the leader waits for a slot,
    `acquire()`s a connection, seals the batch and `run_batch(lease, params)` writes every
    entry on that connection (and gives it back), returning one outcome per entry, in order,
    or raising when the connection failed.
    """

    def __init__(
        self,
        *,
        capacity: int,
        concurrency: int,
        busy: Callable[[], bool],
        run_one: Callable[[Params], Awaitable[Row | None]],
        acquire: Callable[[], Awaitable[Lease]],
        run_batch: Callable[[Lease, Sequence[Params]], Awaitable[Sequence[Outcome]]],
    ) -> None:
        if capacity < 1:
            raise ValueError(f"the batch capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self.slots = WriteSlots(concurrency)
        self._busy = busy
        self._run_one = run_one
        self._acquire = acquire
        self._run_batch = run_batch
        self._open: WriteBatch | None = None

    async def write(self, params: Params) -> Row | None:
        if self.capacity == 1:
            return await self._run_one(params)
        if self.slots.free() and not self._busy():
            return await self._alone(params)
        key = row_key(params)
        batch = self._open
        if batch is None or batch.sealed:
            return await self._lead(params)
        if batch.accepts(key):
            future = batch.join(params, key)
            try:
                return await future
            except _Orphaned:
                return await self._alone(params)
        if key in batch.keys:
            return await self._alone(params)  # this row already waits in the open batch
        return await self._lead(params)  # the open batch is full

    async def _alone(self, params: Params) -> Row | None:
        await self.slots.take()
        try:
            return await self._run_one(params)
        finally:
            self.slots.give_back()

    async def _lead(self, params: Params) -> Row | None:
        batch = WriteBatch(params, self.capacity)
        self._open = batch
        try:
            await self.slots.take()
        except BaseException:
            self._seal(batch)
            batch.fail(_Orphaned())
            raise
        try:
            return await self._write_batch(batch)
        finally:
            self.slots.give_back()

    async def _write_batch(self, batch: WriteBatch) -> Row | None:
        try:
            lease = await self._acquire()
        except BaseException:
            self._seal(batch)
            batch.fail(_Orphaned())
            raise
        self._seal(batch)
        try:
            outcomes = await self._run_batch(lease, batch.params)
        except Exception as error:
            batch.fail(error)
            raise
        except BaseException:
            batch.fail(BatchInterrupted("the batched write was interrupted"))
            raise
        return batch.settle(outcomes)

    def _seal(self, batch: WriteBatch) -> None:
        batch.sealed = True
        if self._open is batch:
            self._open = None
