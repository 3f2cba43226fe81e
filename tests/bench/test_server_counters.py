"""The cluster counters the benchmark reads around each run: WAL written and checkpoints
begun (a checkpoint during a run is what a p99 that stands out is checked against)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from bench.scale import checkpoints_begun, wal_position

pytestmark = pytest.mark.postgres


async def _execute(url: str, *statements: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def test_a_checkpoint_is_counted(postgres_url: str) -> None:
    before = checkpoints_begun(postgres_url)
    asyncio.run(_execute(postgres_url, "CHECKPOINT"))
    assert checkpoints_begun(postgres_url) == before + 1


def test_wal_grows_by_what_was_written(postgres_url: str) -> None:
    asyncio.run(_execute(postgres_url, "CREATE TABLE IF NOT EXISTS wal_probe (body text)"))
    before = wal_position(postgres_url)
    asyncio.run(_execute(postgres_url, "INSERT INTO wal_probe "
                         "SELECT repeat('x', 1000) FROM generate_series(1, 100)"))
    written = wal_position(postgres_url) - before
    assert 100_000 < written < 2_000_000, written
    asyncio.run(_execute(postgres_url, "DROP TABLE wal_probe"))
