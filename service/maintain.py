"""`python -m service maintain`: events retention and the next months' partitions.

PostgreSQL, under an advisory lock (a second run waits, then finds nothing left to do):
1. finishes any partition detach an interrupted run left pending;
2. creates the partitions of this month and the next `MONTHS_AHEAD` that are missing, each as a
   plain table attached afterwards (attaching takes a lock that writers do not wait for;
   `CREATE TABLE ... PARTITION OF` would lock them out of the whole table);
3. drops every partition whose month ended before the retention cutoff: detached
   `CONCURRENTLY` (writers never wait), then dropped;
4. deletes the events past the cutoff in the partition that straddles it, so retention is
   exact to the second, not to the month.
SQLite: one `DELETE` of the events past the cutoff. Both also forget erasures older than an
hour (`erased_users`, service.seen), for when no worker has flushed a note since.

Every step is idempotent. None of these locks makes a writer wait: attaching takes SHARE UPDATE
EXCLUSIVE on `events` (inserts take ROW EXCLUSIVE, which it does not conflict with), a concurrent
detach waits for readers without locking them out, and a dropped table is no longer a partition.
A lock is awaited at most `LOCK_TIMEOUT` (a long export can keep a detach waiting); a run that
gives up leaves nothing half-done that the next run does not finish.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.db import create_engine
from service.models import events
from service.partitions import MONTHS_AHEAD, PARENT, Month, months_between
from service.seen import prune_erased
from service.settings import Settings

# "awmaint" in the one-key advisory lock space (the migration lock is "awaterra").
ADVISORY_LOCK_KEY = 0x61776D61696E74
LOCK_TIMEOUT = "5min"
STATEMENT_TIMEOUT = "30min"

PARTITIONS_SQL = text(
    "SELECT c.relname, i.inhdetachpending FROM pg_inherits i "
    "JOIN pg_class c ON c.oid = i.inhrelid "
    "WHERE i.inhparent = CAST(:parent AS regclass) ORDER BY c.relname"
)


@dataclass
class Maintenance:
    """What one run did, in the order it did it."""

    cutoff: datetime
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    finalized: list[str] = field(default_factory=list)
    deleted_events: int = 0
    forgotten_erasures: int = 0
    waited_for_lock: bool = False
    seconds: float = 0.0

    def lines(self) -> list[str]:
        out: list[str] = []
        if self.waited_for_lock:
            out.append("waited for another maintain run to finish")
        out += [f"finished detaching and dropped partition {name}" for name in self.finalized]
        out += [f"created partition {name}" for name in self.created]
        out += [f"dropped partition {name} (past retention)" for name in self.dropped]
        out.append(
            f"deleted {self.deleted_events} events received before {self.cutoff.isoformat()}"
        )
        out.append(f"forgot {self.forgotten_erasures} erasures older than an hour")
        out.append(f"maintain done in {self.seconds:.3f} s")
        return out


def retention_cutoff(now: datetime, retention_days: int) -> datetime:
    return now.astimezone(UTC) - timedelta(days=retention_days)


async def _partitions(connection: AsyncConnection) -> dict[str, bool]:
    """Each partition of events, and whether it is half-detached."""
    rows = await connection.execute(PARTITIONS_SQL, {"parent": PARENT})
    return {name: bool(pending) for name, pending in rows}


async def _maintain_postgres(
    connection: AsyncConnection, report: Maintenance, now: datetime
) -> None:
    partitions = await _partitions(connection)
    for name, pending in partitions.items():
        if pending:
            await connection.exec_driver_sql(
                f"ALTER TABLE {PARENT} DETACH PARTITION {name} FINALIZE"
            )
            await connection.exec_driver_sql(f"DROP TABLE {name}")
            report.finalized.append(name)
    current = Month.of(now)
    for month in months_between(current, current.plus(MONTHS_AHEAD)):
        if month.name in partitions:
            continue
        await connection.exec_driver_sql(
            f"CREATE TABLE IF NOT EXISTS {month.name} (LIKE {PARENT} INCLUDING DEFAULTS)"
        )
        await connection.exec_driver_sql(
            f"ALTER TABLE {PARENT} ATTACH PARTITION {month.name} FOR VALUES {month.bounds_sql()}"
        )
        report.created.append(month.name)
    for name, pending in partitions.items():
        stored = Month.from_name(name)
        if pending or stored is None or stored.end > report.cutoff:
            continue
        await connection.exec_driver_sql(
            f"ALTER TABLE {PARENT} DETACH PARTITION {name} CONCURRENTLY"
        )
        await connection.exec_driver_sql(f"DROP TABLE {name}")
        report.dropped.append(name)
    result = await connection.execute(delete(events).where(events.c.received_at < report.cutoff))
    report.deleted_events = result.rowcount
    report.forgotten_erasures = await prune_erased(connection, now)


async def maintain(settings: Settings, *, now: datetime | None = None) -> Maintenance:
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    report = Maintenance(cutoff=retention_cutoff(now, settings.event_retention_days))
    engine = create_engine(settings)
    try:
        if engine.dialect.name != "postgresql":
            async with engine.begin() as connection:
                result = await connection.execute(
                    delete(events).where(events.c.received_at < report.cutoff)
                )
                report.deleted_events = result.rowcount
                report.forgotten_erasures = await prune_erased(connection, now)
        else:
            async with engine.connect() as connection:
                # DETACH ... CONCURRENTLY cannot run inside a transaction block.
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.exec_driver_sql(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
                await autocommit.exec_driver_sql(f"SET statement_timeout = '{STATEMENT_TIMEOUT}'")
                got = await autocommit.scalar(
                    text(f"SELECT pg_try_advisory_lock({ADVISORY_LOCK_KEY})")
                )
                if not got:
                    report.waited_for_lock = True
                    await autocommit.exec_driver_sql(
                        f"SELECT pg_advisory_lock({ADVISORY_LOCK_KEY})"
                    )
                try:
                    await _maintain_postgres(autocommit, report, now)
                finally:
                    await autocommit.exec_driver_sql(
                        f"SELECT pg_advisory_unlock({ADVISORY_LOCK_KEY})"
                    )
    finally:
        await engine.dispose()
    report.seconds = time.perf_counter() - started
    return report


def run(settings: Settings) -> Maintenance:
    return asyncio.run(maintain(settings))
