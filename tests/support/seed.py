"""A database filled in SQL (generate_series, not through the API): for the query-plan tests
and the benchmark. Users `seed-user-<n>`, practices `seed-practice-<n>`, events spread over
the months the retention keeps, in partitions made by `maintain` as production would have them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from service.maintain import maintain
from service.partitions import Month, months_between
from service.settings import Settings

PRACTICES = 50
STATES_PER_USER = 10
EVENT_NAMES = 20
# Events arrive over the last 380 days: inside the default retention (395), across 13 months.
EVENT_DAYS = 380


@dataclass(frozen=True)
class Seeded:
    users: int
    states: int
    events: int

    def user(self, n: int) -> str:
        return f"seed-user-{n}"

    def practice(self, n: int) -> str:
        return f"seed-practice-{n}"


async def create_partitions(settings: Settings, now: datetime) -> None:
    """Partitions for every month events are seeded into (maintain only looks ahead)."""
    first = Month.of(now).plus(-(EVENT_DAYS // 28 + 1))
    for month in months_between(first, Month.of(now))[::4]:
        await maintain(settings, now=month.start)
    await maintain(settings, now=now)


BULK_TABLES = ("users", "practice_states", "events")


@contextlib.asynccontextmanager
async def indexes_built_after(connection: asyncpg.Connection) -> AsyncIterator[None]:
    """Drop the keys and indexes of the bulk-loaded tables and build them again afterwards,
    exactly as the migrations defined them: building an index once over loaded rows is several
    times faster than maintaining it row by row. Foreign keys are not checked while loading
    (`session_replication_role = replica`): the seed's rows are valid by construction."""
    keys = await connection.fetch(
        "SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def "
        "FROM pg_constraint WHERE contype = 'p' AND conrelid = ANY($1::regclass[])",
        list(BULK_TABLES),
    )
    indexes = await connection.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY($1::text[]) "
        "AND indexname <> ALL($2::text[])",
        list(BULK_TABLES), [key["conname"] for key in keys],
    )  # fmt: skip
    for index in indexes:
        await connection.execute(f'DROP INDEX "{index["indexname"]}"')
    for key in keys:
        await connection.execute(f'ALTER TABLE {key["tbl"]} DROP CONSTRAINT "{key["conname"]}"')
    await connection.execute("SET session_replication_role = replica")
    try:
        yield
    finally:
        await connection.execute("SET session_replication_role = DEFAULT")
        for key in keys:
            await connection.execute(
                f'ALTER TABLE {key["tbl"]} ADD CONSTRAINT "{key["conname"]}" {key["def"]}'
            )
        for index in indexes:
            # pg_indexes shows a partitioned table's index as `ON ONLY` (the parent alone).
            await connection.execute(index["indexdef"].replace(" ON ONLY ", " ON ", 1))


async def seed(settings: Settings, url: str, *, states: int, events: int) -> Seeded:
    """`states` map rows (STATES_PER_USER per user) and `events` events over those users, on
    a freshly migrated database."""
    now = datetime.now(UTC)
    await create_partitions(settings, now)
    users = max(1, states // STATES_PER_USER)
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("SET maintenance_work_mem = '256MB'")
        async with indexes_built_after(connection):
            await _load(connection, now, users, states, events)
        await connection.execute("SET default_statistics_target = 20")
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return Seeded(users=users, states=states, events=events)


async def _load(
    connection: asyncpg.Connection, now: datetime, users: int, states: int, events: int
) -> None:
    await connection.execute(
        "INSERT INTO practices SELECT 'seed-practice-' || n, 'Practice ' || n, 'Seeded', "
        "300, 'calm', n % 10 <> 0, NULL, now(), now() "
        f"FROM generate_series(1, {PRACTICES}) AS n ON CONFLICT DO NOTHING"
    )
    await connection.execute(
        "INSERT INTO users SELECT 'seed-user-' || n, now() - interval '300 days', now() "
        f"FROM generate_series(1, {users}) AS n"
    )
    await connection.execute(
        "INSERT INTO practice_states SELECT 'seed-user-' || (n / $1 + 1), "
        "'seed-practice-' || ((n % $1 + (n / $1) * 7) % $2 + 1), 'in_progress', 0.5, "
        "jsonb_build_object('step', n), now() - interval '1 day', now() - interval '1 day' "
        f"FROM generate_series(0, {states - 1}) AS n",
        STATES_PER_USER, PRACTICES,
    )  # fmt: skip
    await connection.execute(
        "INSERT INTO events (user_id, name, occurred_at, received_at, properties) "
        "SELECT 'seed-user-' || (n % $1 + 1), 'seed.event-' || (n % $2), "
        "$3::timestamptz - (n % $4) * interval '1 day' - (n % 86400) * interval '1 second', "
        "$3::timestamptz - (n % $4) * interval '1 day' - (n % 86400) * interval '1 second', "
        "jsonb_build_object('n', n) "
        f"FROM generate_series(0, {events - 1}) AS n",
        users, EVENT_NAMES, now, EVENT_DAYS,
    )  # fmt: skip
