"""Storage of the practice map: the request path's hottest statements.

Two implementations of one small interface. On PostgreSQL the statements run on a plain
asyncpg pool: SQLAlchemy's per-call machinery (connection proxy, greenlet hops, result
processing) costs several times the database round trip itself on this path. The SQL is still
SQLAlchemy's (`service.queries`), compiled once at start, so there is one source of truth. On
SQLite (local use) the same statements run through SQLAlchemy.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import asyncpg
import orjson
from sqlalchemy import exc
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from service.db import MIGRATE_HINT, is_schema_missing
from service.mapbatch import Outcome, Params, WriteCoalescer, row_key
from service.metrics import METRICS
from service.pgpool import LeanPool
from service.queries import Queries
from service.settings import Settings

Row = Mapping[str, Any]
T = TypeVar("T")
logger = logging.getLogger("service.db")


class UnknownPractice(Exception):
    """The write names a practice that does not exist (the foreign key refused it)."""


class SchemaNotMigrated(Exception):
    """The database answers but has no tables: `python -m service migrate` has not run."""


# The heartbeat's probe: a round trip that also proves the schema is there (plans to nothing).
PING_SQL = "SELECT 1 FROM practice_states WHERE false"


async def _probe_schema(probe: Awaitable[Any]) -> None:
    try:
        await probe
    except Exception as error:
        if is_schema_missing(error):
            logger.error(MIGRATE_HINT)
            raise SchemaNotMigrated(MIGRATE_HINT) from None
        raise


class MapStore(Protocol):
    async def upsert_state(self, params: Mapping[str, Any]) -> Row | None:
        """The stored row when the write was applied, None when a newer one is stored."""
        ...

    async def read_state(self, user_id: str, practice_id: str) -> Row | None: ...

    async def read_map(self, user_id: str) -> Sequence[Row]: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class SqlAlchemyMapStore:
    """Through the SQLAlchemy engine (SQLite, or any dialect without a fast path)."""

    def __init__(self, engine: AsyncEngine, queries: Queries) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._queries = queries

    async def upsert_state(self, params: Mapping[str, Any]) -> Row | None:
        async with self._engine.connect() as connection:
            try:
                row = (await connection.execute(self._queries.upsert_state, dict(params))).first()
            except exc.IntegrityError:
                # The only constraint a validated write can break is the practice foreign key.
                raise UnknownPractice() from None
        return None if row is None else row._mapping

    async def read_state(self, user_id: str, practice_id: str) -> Row | None:
        async with self._engine.connect() as connection:
            result = await connection.execute(
                self._queries.read_state, {"user_id": user_id, "practice_id": practice_id}
            )
            row = result.first()
        return None if row is None else row._mapping

    async def read_map(self, user_id: str) -> Sequence[Row]:
        async with self._engine.connect() as connection:
            result = await connection.execute(self._queries.read_map, {"user_id": user_id})
            return [row._mapping for row in result.all()]

    async def ping(self) -> None:
        async with self._engine.connect() as connection:
            await _probe_schema(connection.exec_driver_sql(PING_SQL))

    async def close(self) -> None:
        return None


_ASYNCPG_DIALECT = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]


class _Compiled:
    """A SQLAlchemy statement rendered for asyncpg: SQL text and its parameter order."""

    def __init__(self, statement: ClauseElement) -> None:
        compiled = statement.compile(dialect=_ASYNCPG_DIALECT)
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        self.order: tuple[str, ...] = tuple(compiled.positiontup or ())
        self.operation = self.sql.lstrip()[:6].upper()

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        return [params[name] for name in self.order]

    def array_args(self, rows: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
        """One array per parameter, for the multi-row upsert (the JSON state as text)."""
        return [
            [_json_text(row[name]) for row in rows]
            if name == "state"
            else [row[name] for row in rows]
            for name in self.order
        ]


# The `pool` label of this pool in awaterra_db_pool_* (the SQLAlchemy engine is "primary").
POOL_NAME = "map"


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


async def _init_connection(connection: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(
            type_name, encoder=_json_text, decoder=orjson.loads, schema="pg_catalog"
        )


def asyncpg_dsn(database_url: str) -> str:
    if database_url.startswith("postgres://"):
        return "postgresql://" + database_url.removeprefix("postgres://")
    return database_url


class AsyncpgMapStore:
    """A plain asyncpg connection pool (`service.pgpool`) for the map statements on PostgreSQL.

    Connections open lazily (so the service starts while the database is down) and a dead
    connection is replaced on the next acquire, so the pool recovers by itself after an outage.
    Acquiring, connecting and each statement are bounded by the configured timeouts.
    """

    def __init__(self, settings: Settings, queries: Queries) -> None:
        self._settings = settings
        self._upsert = _Compiled(queries.upsert_state)
        assert queries.upsert_states is not None, "PostgreSQL queries have the multi-row upsert"
        self._upsert_many = _Compiled(queries.upsert_states)
        self._read_state = _Compiled(queries.read_state)
        self._read_map = _Compiled(queries.read_map)
        self._timeout = settings.db_statement_timeout_seconds
        self._pool = LeanPool(
            self._connect,
            max_size=settings.db_pool_size,
            acquire_timeout=settings.db_statement_timeout_seconds,
            max_idle_seconds=300,
        )
        METRICS.pool_size.labels(POOL_NAME).set(settings.db_pool_size)
        self._checked_out = METRICS.pool_checked_out.labels(POOL_NAME)
        self._batch_rows = METRICS.write_batch_rows
        self._writes: WriteCoalescer[asyncpg.Connection] = WriteCoalescer(
            capacity=settings.db_write_batch_size,
            concurrency=min(settings.db_write_concurrency, settings.db_pool_size),
            busy=self._pool.busy,
            run_one=self._upsert_one,
            acquire=self._pool.acquire,
            run_batch=self._upsert_batch,
        )

    async def _connect(self) -> asyncpg.Connection:
        settings = self._settings
        statement_ms = str(int(settings.db_statement_timeout_seconds * 1000))
        connection: asyncpg.Connection = await asyncpg.connect(
            asyncpg_dsn(settings.database_url),
            **settings.db_connect_args(),
            timeout=settings.db_connect_timeout_seconds,
            command_timeout=settings.db_statement_timeout_seconds + 1,
            server_settings={
                "statement_timeout": statement_ms,
                "lock_timeout": statement_ms,
                "application_name": "awaterra-service",
            },
        )
        try:
            await _init_connection(connection)
        except BaseException:
            connection.terminate()
            raise
        return connection

    async def _run(self, method: str, sql: str, args: Sequence[Any]) -> Any:
        """One statement on a pooled connection."""
        connection = await self._pool.acquire()
        return await self._use(connection, lambda c: getattr(c, method)(sql, *args))

    async def _use(
        self, connection: asyncpg.Connection, work: Callable[[asyncpg.Connection], Awaitable[T]]
    ) -> T:
        """Run `work` on an acquired connection, then give it back. A server-reported error
        leaves the connection ready for the next statement; anything else (a timeout, a
        cancellation, a broken socket) may leave it half-way through the protocol, so it is
        terminated instead."""
        pool = self._pool
        checked_out = self._checked_out
        checked_out.inc()
        try:
            result = await work(connection)
        except asyncpg.PostgresError:
            pool.release(connection)
            raise
        except BaseException:
            pool.release(connection, reusable=False)
            raise
        finally:
            checked_out.dec()
        pool.release(connection)
        return result

    async def _fetch_row(self, compiled: _Compiled, args: list[Any]) -> Row | None:
        started = time.perf_counter()
        row: Row | None = await self._run("fetchrow", compiled.sql, args)
        METRICS.observe_query(compiled.operation, time.perf_counter() - started)
        return row

    async def upsert_state(self, params: Mapping[str, Any]) -> Row | None:
        return await self._writes.write(params)

    async def _upsert_one(self, params: Params) -> Row | None:
        try:
            row = await self._fetch_row(self._upsert, self._upsert.args(params))
        except asyncpg.ForeignKeyViolationError:
            raise UnknownPractice() from None
        self._batch_rows.observe(1)
        return row

    async def _upsert_batch(
        self, connection: asyncpg.Connection, batch: Sequence[Params]
    ) -> list[Outcome]:
        """Several writes with distinct keys on a connection the caller acquired (and this
        gives back), one outcome per write, in order."""
        return await self._use(connection, lambda c: self._write_rows(c, batch))

    async def _write_rows(
        self, connection: asyncpg.Connection, batch: Sequence[Params]
    ) -> list[Outcome]:
        if len(batch) > 1:
            # Key order: two batches touching the same rows lock them in the same order.
            ordered = sorted(batch, key=row_key)
            started = time.perf_counter()
            try:
                rows = await connection.fetch(
                    self._upsert_many.sql, *self._upsert_many.array_args(ordered)
                )
            except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError):
                pass  # one write is refused: write each alone below, so only that one fails
            else:
                METRICS.observe_query("INSERT", time.perf_counter() - started)
                self._batch_rows.observe(len(batch))
                stored = {row_key(row): row for row in rows}
                return [stored.get(row_key(params)) for params in batch]
        return [await self._write_alone(connection, params) for params in batch]

    async def _write_alone(self, connection: asyncpg.Connection, params: Params) -> Outcome:
        started = time.perf_counter()
        try:
            args = self._upsert.args(params)
            row: Row | None = await connection.fetchrow(self._upsert.sql, *args)
        except asyncpg.ForeignKeyViolationError:
            return UnknownPractice()
        except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as error:
            refused: BaseException = error
            return refused
        METRICS.observe_query("INSERT", time.perf_counter() - started)
        self._batch_rows.observe(1)
        return row

    async def read_state(self, user_id: str, practice_id: str) -> Row | None:
        return await self._fetch_row(self._read_state, [user_id, practice_id])

    async def read_map(self, user_id: str) -> Sequence[Row]:
        started = time.perf_counter()
        rows: list[Row] = await self._run("fetch", self._read_map.sql, [user_id])
        METRICS.observe_query("SELECT", time.perf_counter() - started)
        return rows

    async def ping(self) -> None:
        await _probe_schema(self._run("fetchval", PING_SQL, ()))

    async def close(self) -> None:
        await self._pool.close()


def build_map_store(settings: Settings, engine: AsyncEngine, queries: Queries) -> MapStore:
    if engine.dialect.name == "postgresql":
        return AsyncpgMapStore(settings, queries)
    return SqlAlchemyMapStore(engine, queries)
