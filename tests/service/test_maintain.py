"""Events partitioned by month on PostgreSQL: the migration of a populated table, and
`python -m service maintain` (partitions ahead, retention by dropping months, exact cutoff,
safe twice and from two processes); plain retention on SQLite."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic import command
from sqlalchemy.engine import Connection

from service.db import create_engine
from service.maintain import maintain
from service.migrate import alembic_config, head_revision, migrate
from service.models import events
from service.partitions import MONTHS_AHEAD, Month, months_between
from service.settings import Settings, SettingsError, load_settings
from tests.service.conftest import service_settings
from tests.support.live_service import REPO_ROOT
from tests.support.postgres import PostgresCluster

pytestmark = pytest.mark.anyio


@pytest.fixture
def fresh_postgres(postgres_cluster: PostgresCluster | None) -> str:
    if postgres_cluster is None:
        pytest.skip("needs the suite's own cluster to create a fresh database")
    return postgres_cluster.create_database(f"mnt_{uuid.uuid4().hex[:10]}")


def settings_for(url: str, tmp_path: Path, retention_days: int = 395) -> Settings:
    return replace(service_settings(url, tmp_path / "data"), event_retention_days=retention_days)


async def migrate_to(settings: Settings, revision: str) -> None:
    def upgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    engine = create_engine(settings)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(upgrade)
    finally:
        await engine.dispose()


async def partitions(connection: asyncpg.Connection) -> list[str]:
    rows = await connection.fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'events'::regclass ORDER BY c.relname"
    )
    return [row["relname"] for row in rows]


def plan(explained: Any) -> dict[str, Any]:
    document = json.loads(explained) if isinstance(explained, str) else explained
    root: dict[str, Any] = document[0]["Plan"]
    return root


def relations(node: dict[str, Any]) -> set[str]:
    found = {node["Relation Name"]} if "Relation Name" in node else set()
    for child in node.get("Plans", ()):
        found |= relations(child)
    return found


@pytest.mark.postgres
async def test_migration_partitions_a_populated_events_table(
    fresh_postgres: str, tmp_path: Path
) -> None:
    settings = settings_for(fresh_postgres, tmp_path)
    await migrate_to(settings, "0001")
    connection = await asyncpg.connect(fresh_postgres)
    try:
        # 30,000 events over the last 14 months (two years back for a few), as 0001 stored them.
        await connection.execute(
            "INSERT INTO events (user_id, name, occurred_at, received_at, properties) "
            "SELECT 'u' || (n % 300), 'e' || (n % 7), now() - n * interval '20 minutes', "
            "now() - n * interval '20 minutes', jsonb_build_object('n', n) "
            "FROM generate_series(0, 29999) AS n"
        )
        await connection.execute(
            "INSERT INTO events (user_id, name, occurred_at, received_at, properties) "
            "VALUES ('old', 'e', now() - interval '2 years', now() - interval '2 years', '{}')"
        )
        before = await connection.fetch("SELECT * FROM events ORDER BY id")
        assert await migrate(settings) == head_revision()
        columns = ", ".join(before[0].keys())
        after = await connection.fetch(f"SELECT {columns} FROM events ORDER BY id")
        assert [tuple(row) for row in after] == [tuple(row) for row in before]
        assert await connection.fetchval(
            "SELECT relkind::text FROM pg_class WHERE relname = 'events'"
        ) == "p"
        assert await connection.fetchval(
            "SELECT count(*) FROM pg_class WHERE relname = 'events_unpartitioned'"
        ) == 0
        # One partition per month from the oldest event to MONTHS_AHEAD months ahead.
        now = Month.of(datetime.now(UTC))
        oldest = Month.of(min(row["received_at"] for row in before))
        assert await partitions(connection) == [
            m.name for m in months_between(oldest, now.plus(MONTHS_AHEAD))
        ]
        misplaced = await connection.fetchval(
            "SELECT count(*) FROM events WHERE to_char(received_at AT TIME ZONE 'UTC', "
            "'\"events_p\"YYYY_MM') <> tableoid::regclass::text"
        )
        assert misplaced == 0
        # New rows continue the old ids.
        new_id = await connection.fetchval(
            "INSERT INTO events (user_id, name, occurred_at, received_at, properties) "
            "VALUES ('new', 'e', now(), now(), '{}') RETURNING id"
        )
        assert new_id > max(row["id"] for row in before)
        # A time-bounded query reads only the partitions of its range.
        explained = await connection.fetchval(
            "EXPLAIN (FORMAT JSON) SELECT * FROM events "
            "WHERE received_at >= $1 AND received_at < $2",
            now.start, now.end,
        )  # fmt: skip
        assert relations(plan(explained)) == {now.name}
        since = datetime.now(UTC) - timedelta(days=45)
        count = await connection.fetchval(
            "SELECT count(*) FROM events WHERE user_id = 'u7' AND received_at > $1", since
        )
        assert count == sum(
            1 for row in before if row["user_id"] == "u7" and row["received_at"] > since
        )
    finally:
        await connection.close()


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


@pytest.mark.postgres
async def test_maintain_creates_ahead_drops_expired_months_and_cuts_exactly(
    fresh_postgres: str, tmp_path: Path
) -> None:
    settings = settings_for(fresh_postgres, tmp_path)
    await migrate(settings)
    first = await maintain(settings, now=at(2025, 1, 15))
    assert first.created == [m.name for m in months_between(Month(2025, 1), Month(2025, 4))]
    connection = await asyncpg.connect(fresh_postgres)
    try:
        for moment in (at(2025, 1, 10), at(2025, 2, 10), at(2025, 2, 25), at(2025, 4, 10)):
            await connection.execute(
                "INSERT INTO events (user_id, name, occurred_at, received_at, properties) "
                "VALUES ('u', 'e', $1, $1, '{}')",
                moment,
            )
        # 395 days before 2026-03-20 is 2025-02-18: January goes whole, February in part.
        report = await maintain(settings, now=at(2026, 3, 20))
        assert report.cutoff == datetime(2025, 2, 18, 12, tzinfo=UTC)
        assert report.dropped == ["events_p2025_01"]
        assert report.deleted_events == 1
        assert report.created == [m.name for m in months_between(Month(2026, 3), Month(2026, 6))]
        kept = await connection.fetch("SELECT received_at FROM events ORDER BY received_at")
        assert [row["received_at"] for row in kept] == [at(2025, 2, 25), at(2025, 4, 10)]
        names = await partitions(connection)
        assert "events_p2025_01" not in names and "events_p2025_02" in names
        assert await connection.fetchval(
            "SELECT count(*) FROM pg_class WHERE relname = 'events_p2025_01'"
        ) == 0
        # A partition made by maintain has every index of the table.
        indexes = await connection.fetch(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'events_p2026_05'"
        )
        columns = sorted(row["indexdef"].split("(", 1)[1] for row in indexes)
        assert columns == ["name, received_at)", "received_at, id)", "user_id, received_at)"]
        assert await connection.fetchval(
            "SELECT indisunique FROM pg_index WHERE indexrelid = "
            "'events_p2026_05_pkey'::regclass"
        )
        again = await maintain(settings, now=at(2026, 3, 20))
        assert (again.created, again.dropped, again.deleted_events) == ([], [], 0)
        assert "deleted 0 events" in "\n".join(again.lines())
    finally:
        await connection.close()


@pytest.mark.postgres
async def test_maintain_forgets_erasures_older_than_an_hour(
    fresh_postgres: str, tmp_path: Path
) -> None:
    settings = settings_for(fresh_postgres, tmp_path)
    await migrate(settings)
    connection = await asyncpg.connect(fresh_postgres)
    try:
        await connection.execute(
            "INSERT INTO erased_users VALUES ('long-ago', now() - interval '61 minutes'), "
            "('just-now', now() - interval '59 minutes')"
        )
        report = await maintain(settings)
        assert report.forgotten_erasures == 1
        assert "forgot 1 erasures older than an hour" in report.lines()
        kept = await connection.fetch("SELECT subject FROM erased_users")
        assert [row["subject"] for row in kept] == ["just-now"]
    finally:
        await connection.close()


@pytest.mark.postgres
async def test_two_maintain_runs_at_once_do_the_work_once(
    fresh_postgres: str, tmp_path: Path
) -> None:
    settings = settings_for(fresh_postgres, tmp_path)
    await migrate(settings)
    runs = await asyncio.gather(*(maintain(settings, now=at(2030, 6, 1)) for _ in range(3)))
    created = [name for run in runs for name in run.created]
    assert sorted(created) == [m.name for m in months_between(Month(2030, 6), Month(2030, 9))]
    assert sum(1 for run in runs if run.created) == 1


@pytest.mark.postgres
async def test_maintain_finishes_a_detach_left_pending(
    fresh_postgres: str, tmp_path: Path
) -> None:
    settings = settings_for(fresh_postgres, tmp_path)
    await migrate(settings)
    await maintain(settings, now=at(2024, 1, 1))
    connection = await asyncpg.connect(fresh_postgres)
    try:
        # A detach interrupted between its two transactions leaves the partition "pending".
        blocker = await asyncpg.connect(fresh_postgres)
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute("SELECT count(*) FROM events")
        await connection.execute("SET statement_timeout = '500ms'")
        with pytest.raises(asyncpg.QueryCanceledError):
            await connection.execute(
                "ALTER TABLE events DETACH PARTITION events_p2024_02 CONCURRENTLY"
            )
        await transaction.rollback()
        await blocker.close()
        pending = await connection.fetchval(
            "SELECT inhdetachpending FROM pg_inherits "
            "WHERE inhrelid = 'events_p2024_02'::regclass"
        )
        assert pending is True
        report = await maintain(settings, now=at(2024, 1, 1))
        assert report.finalized == ["events_p2024_02"]
        assert "events_p2024_02" not in await partitions(connection)
    finally:
        await connection.close()


async def test_maintain_on_sqlite_deletes_what_is_past_retention(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'maintain.db'}"
    settings = settings_for(url, tmp_path, retention_days=30)
    await migrate(settings)
    engine = create_engine(settings)

    now = datetime.now(UTC)
    try:
        async with engine.begin() as connection:
            await connection.execute(events.insert(), [
                {"user_id": "u", "name": "e", "occurred_at": now, "received_at": moment,
                 "properties": {}}
                for moment in (at(2020, 1, 1), now)
            ])  # fmt: skip
        report = await maintain(settings)
        assert report.deleted_events == 1 and report.created == [] and report.dropped == []
        async with engine.connect() as connection:
            left = (await connection.execute(events.select())).all()
        assert [row.received_at for row in left] == [now]
    finally:
        await engine.dispose()


@pytest.fixture
def cli_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    yield {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "DB_"))},
        "PYTHONPATH": str(REPO_ROOT),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "DATA_DIR": str(tmp_path / "data"),
    }


def test_the_command_line_says_what_it_did(cli_env: dict[str, str], tmp_path: Path) -> None:
    def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "service", *args], env={**cli_env, **extra}, cwd=tmp_path,
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    assert run("migrate").returncode == 0
    done = run("maintain")
    assert done.returncode == 0, done.stderr
    assert "deleted 0 events received before" in done.stdout
    assert "maintain done in" in done.stdout
    refused = run("maintain", EVENT_RETENTION_DAYS="0")
    assert refused.returncode == 2
    assert "EVENT_RETENTION_DAYS must be at least 1" in refused.stderr


@pytest.mark.parametrize("raw", ["0", "-3", "a year"])
def test_retention_must_be_a_whole_number_of_days(raw: str) -> None:
    with pytest.raises(SettingsError, match="EVENT_RETENTION_DAYS"):
        load_settings({"EVENT_RETENTION_DAYS": raw})


def test_retention_defaults_to_395_days() -> None:
    assert load_settings({}).event_retention_days == 395
    assert load_settings({"EVENT_RETENTION_DAYS": "30"}).event_retention_days == 30
