"""service.mapbatch: when writes run alone, lead a batch or join one, and what each caller sees.

The database side is a stand-in here (a connection gate the test opens by hand), so every
interleaving is deterministic; tests/service/test_map_batched.py runs the same coalescer
against a real PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from service.mapbatch import BatchInterrupted, Outcome, Params, Row, WriteCoalescer, WriteSlots

pytestmark = pytest.mark.anyio


class Refused(Exception):
    """What the stand-in database answers for a write it refuses on its own."""


def params(user: str, practice: str = "p1", at: int = 1) -> dict[str, Any]:
    return {"user_id": user, "practice_id": practice, "at": at}


class FakeDatabase:
    """Connections come from a gate: `acquire()` waits until the test calls `free()`."""

    def __init__(self, *, busy: bool = True) -> None:
        self.is_busy = busy
        self.gate: asyncio.Queue[str] = asyncio.Queue()
        self.alone: list[Params] = []
        self.batches: list[list[Params]] = []
        self.refuse: set[str] = set()
        self.batch_error: BaseException | None = None
        self.batch_started = asyncio.Event()
        self.batch_release = asyncio.Event()
        self.batch_release.set()
        self.in_flight = 0
        self.most_in_flight = 0

    def busy(self) -> bool:
        return self.is_busy

    def free(self, count: int = 1) -> None:
        for _ in range(count):
            self.gate.put_nowait("connection")

    def outcome(self, entry: Params) -> Outcome:
        if entry["user_id"] in self.refuse:
            return Refused(entry["user_id"])
        return {"user_id": entry["user_id"], "stored": entry["at"]}

    async def run_one(self, entry: Params) -> Row | None:
        await self.gate.get()
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)
            self.alone.append(entry)
            outcome = self.outcome(entry)
        finally:
            self.in_flight -= 1
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def acquire(self) -> str:
        return await self.gate.get()

    async def run_batch(self, lease: str, entries: Sequence[Params]) -> list[Outcome]:
        assert lease == "connection"
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            self.batches.append(list(entries))
            self.batch_started.set()
            await self.batch_release.wait()
            if self.batch_error is not None:
                raise self.batch_error
            return [self.outcome(entry) for entry in entries]
        finally:
            self.in_flight -= 1


def coalescer(
    database: FakeDatabase, *, capacity: int = 8, concurrency: int = 1
) -> WriteCoalescer[str]:
    return WriteCoalescer(
        capacity=capacity,
        concurrency=concurrency,
        busy=database.busy,
        run_one=database.run_one,
        acquire=database.acquire,
        run_batch=database.run_batch,
    )


async def settle(*tasks: asyncio.Task[Any]) -> list[Any]:
    return await asyncio.gather(*tasks, return_exceptions=True)


def stored(result: Any) -> Any:
    assert isinstance(result, Mapping), result
    return result["stored"]


async def test_a_write_runs_alone_when_a_connection_is_free() -> None:
    database = FakeDatabase(busy=False)
    writes = coalescer(database)
    database.free()
    assert stored(await writes.write(params("u1"))) == 1
    assert database.alone == [params("u1")] and database.batches == []


async def test_writes_arriving_while_the_leader_waits_share_its_statement() -> None:
    database = FakeDatabase()
    writes = coalescer(database)
    tasks = [asyncio.create_task(writes.write(params(f"u{n}", at=n))) for n in range(5)]
    await asyncio.sleep(0)  # the leader waits for a connection; the others joined it
    assert database.batches == []
    database.free()
    results = await settle(*tasks)
    assert database.batches == [[params(f"u{n}", at=n) for n in range(5)]]
    assert [stored(result) for result in results] == [0, 1, 2, 3, 4]
    assert database.alone == []


async def test_a_second_write_to_the_same_row_never_joins_the_batch() -> None:
    database = FakeDatabase()
    writes = coalescer(database)
    first = asyncio.create_task(writes.write(params("u1", at=1)))
    await asyncio.sleep(0)
    again = asyncio.create_task(writes.write(params("u1", at=2)))
    other = asyncio.create_task(writes.write(params("u2", at=3)))
    await asyncio.sleep(0)
    database.free(2)
    results = await settle(first, again, other)
    assert database.batches == [[params("u1", at=1), params("u2", at=3)]]
    assert database.alone == [params("u1", at=2)]
    assert [stored(result) for result in results] == [1, 2, 3]


async def test_a_full_batch_makes_the_next_write_lead_a_new_one() -> None:
    database = FakeDatabase()
    writes = coalescer(database, capacity=2, concurrency=2)
    tasks = [asyncio.create_task(writes.write(params(f"u{n}"))) for n in range(5)]
    await asyncio.sleep(0)
    database.free(3)
    await settle(*tasks)
    assert [len(batch) for batch in database.batches] == [2, 2, 1]
    assert sorted(entry["user_id"] for batch in database.batches for entry in batch) == [
        f"u{n}" for n in range(5)
    ]


@pytest.mark.parametrize(("size", "refused"), [(4, 2), (3, 0)], ids=["a follower", "the leader"])
async def test_only_the_refused_write_fails_and_the_rest_are_stored(
    size: int, refused: int
) -> None:
    database = FakeDatabase()
    database.refuse = {f"u{refused}"}
    writes = coalescer(database)
    tasks = [asyncio.create_task(writes.write(params(f"u{n}", at=n))) for n in range(size)]
    await asyncio.sleep(0)
    database.free()
    results = await settle(*tasks)
    assert isinstance(results[refused], Refused)
    others = [n for n in range(size) if n != refused]
    assert [stored(results[n]) for n in others] == others


async def test_a_failed_connection_fails_every_write_of_the_batch() -> None:
    database = FakeDatabase()
    database.batch_error = ConnectionResetError("server closed the connection")
    writes = coalescer(database)
    tasks = [asyncio.create_task(writes.write(params(f"u{n}"))) for n in range(3)]
    await asyncio.sleep(0)
    database.free()
    results = await settle(*tasks)
    assert all(isinstance(result, ConnectionResetError) for result in results)
    assert len(database.batches) == 1


async def test_when_the_leader_never_gets_a_connection_the_others_write_alone() -> None:
    database = FakeDatabase()
    writes = coalescer(database)
    leader = asyncio.create_task(writes.write(params("u0")))
    await asyncio.sleep(0)
    followers = [asyncio.create_task(writes.write(params(f"u{n}"))) for n in (1, 2)]
    await asyncio.sleep(0)
    leader.cancel()  # e.g. its wait for a connection timed out
    await asyncio.sleep(0)
    database.free(2)
    results = await settle(*followers)
    assert [stored(result) for result in results] == [1, 1]
    assert [entry["user_id"] for entry in database.alone] == ["u1", "u2"]
    assert database.batches == []
    assert leader.cancelled()


async def test_a_leader_cancelled_mid_statement_leaves_the_others_an_outage_not_a_hang() -> None:
    database = FakeDatabase()
    database.batch_release.clear()
    writes = coalescer(database)
    leader = asyncio.create_task(writes.write(params("u0")))
    await asyncio.sleep(0)
    follower = asyncio.create_task(writes.write(params("u1")))
    await asyncio.sleep(0)
    database.free()
    await database.batch_started.wait()
    leader.cancel()
    (result,) = await settle(follower)
    # A ConnectionResetError: the service answers 503 (the write's fate is unknown).
    assert isinstance(result, BatchInterrupted) and isinstance(result, ConnectionResetError)


async def test_a_follower_cancelled_while_waiting_does_not_disturb_the_others() -> None:
    database = FakeDatabase()
    writes = coalescer(database)
    tasks = [asyncio.create_task(writes.write(params(f"u{n}", at=n))) for n in range(3)]
    await asyncio.sleep(0)
    tasks[1].cancel()
    await asyncio.sleep(0)
    database.free()
    results = await settle(*tasks)
    assert stored(results[0]) == 0 and stored(results[2]) == 2
    assert isinstance(results[1], asyncio.CancelledError)


async def test_no_more_statements_in_flight_than_the_concurrency() -> None:
    database = FakeDatabase(busy=False)
    writes = coalescer(database, concurrency=2)
    tasks = [
        asyncio.create_task(writes.write(params(f"u{n}", practice=f"p{n % 3}"))) for n in range(30)
    ]
    for _ in range(40):
        database.free()
        await asyncio.sleep(0)
    results = await settle(*tasks)
    assert all(isinstance(result, Mapping) for result in results)
    assert database.most_in_flight <= 2
    assert writes.slots.in_flight == 0
    written = [entry for batch in database.batches for entry in batch] + database.alone
    assert sorted(entry["user_id"] for entry in written) == sorted(f"u{n}" for n in range(30))


async def test_capacity_one_turns_coalescing_off() -> None:
    database = FakeDatabase()
    writes = coalescer(database, capacity=1)
    tasks = [asyncio.create_task(writes.write(params(f"u{n}"))) for n in range(3)]
    database.free(3)
    await settle(*tasks)
    assert database.batches == [] and len(database.alone) == 3


async def test_a_slot_given_to_a_cancelled_waiter_passes_on() -> None:
    slots = WriteSlots(1)
    await slots.take()
    waiting = asyncio.create_task(slots.take())
    after = asyncio.create_task(slots.take())
    await asyncio.sleep(0)
    slots.give_back()  # hands the slot to `waiting`...
    waiting.cancel()  # ...which is cancelled before it runs: `after` must get it
    await asyncio.sleep(0)
    await asyncio.wait_for(after, 1)
    assert slots.in_flight == 1
    slots.give_back()
    assert slots.in_flight == 0


@pytest.mark.parametrize("bad", [0, -1])
def test_nonsense_sizes_are_refused(bad: int) -> None:
    database = FakeDatabase()
    with pytest.raises(ValueError, match="at least 1"):
        coalescer(database, capacity=bad)
    with pytest.raises(ValueError, match="at least 1"):
        coalescer(database, concurrency=bad)


async def test_a_store_answering_the_wrong_number_of_outcomes_fails_everyone_loudly() -> None:
    database = FakeDatabase()

    async def short_batch(lease: str, entries: Sequence[Params]) -> list[Outcome]:
        return [database.outcome(entry) for entry in entries[:-1]]

    writes = WriteCoalescer(
        capacity=8, concurrency=1, busy=database.busy, run_one=database.run_one,
        acquire=database.acquire, run_batch=short_batch,
    )
    tasks = [asyncio.create_task(writes.write(params(f"u{n}"))) for n in range(3)]
    await asyncio.sleep(0)
    database.free()
    results = await asyncio.wait_for(settle(*tasks), 1)
    assert all(isinstance(result, RuntimeError) for result in results)
