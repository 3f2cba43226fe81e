"""Every statement the service runs is planned on an index or a partition-pruned scan.

A database of the suite's cluster is filled in SQL (tests/support/seed.py: 200,000 map rows,
500,000 events over thirteen monthly partitions, 20,000 users), the real app is driven through
every endpoint it declares (the test fails if one is left out), plus the seen-users flush and
`maintain`, and every statement that reached the database is captured on the way: SQLAlchemy's
`before_cursor_execute` for the engine(s), asyncpg's query logger for the map store's pool.
Each captured statement is then explained (`EXPLAIN (FORMAT JSON)`, with the parameters it was
run with) and no plan may hold a sequential scan of a large table (LARGE_ROWS or more). A
sequential scan of a large events partition is accepted only when pruning left that single
partition (retention's delete of the month that straddles the cutoff). So a new query, or a
changed one, without an index fails here without anyone having to list it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from service.app import ENDPOINTS, ServiceApp
from service.maintain import maintain
from service.mapstore import AsyncpgMapStore
from service.migrate import migrate
from service.partitions import is_partition_name
from tests.service.conftest import Issuer, build_app, running, service_settings
from tests.support.postgres import PostgresCluster
from tests.support.seed import Seeded, seed

pytestmark = [pytest.mark.anyio, pytest.mark.postgres, pytest.mark.slow]

MAP_ROWS = 200_000
EVENTS = 500_000
# A table with at least this many rows must never be read whole.
LARGE_ROWS = 10_000
EXPLAINABLE = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")


@dataclass
class Seeding:
    url: str
    seeded: Seeded


@pytest.fixture(scope="session")
def plans_database(
    postgres_cluster: PostgresCluster | None, tmp_path_factory: pytest.TempPathFactory
) -> Seeding:
    if postgres_cluster is None:
        pytest.skip("needs the suite's own cluster for a database of its own")
    url = postgres_cluster.create_database(f"plans_{uuid.uuid4().hex[:10]}")
    settings = service_settings(url, tmp_path_factory.mktemp("plans"))

    async def prepare() -> Seeded:
        await migrate(settings)
        return await seed(settings, url, states=MAP_ROWS, events=EVENTS)

    return Seeding(url, asyncio.run(prepare()))


@dataclass
class Captured:
    sql: str
    params: tuple[Any, ...]
    via: str  # "sqlalchemy" or "asyncpg"


@dataclass
class QueryLog:
    statements: dict[str, Captured] = field(default_factory=dict)

    def add(self, sql: str, params: Any, via: str) -> None:
        if sql.lstrip().split(None, 1)[0].upper() in EXPLAINABLE:
            self.statements.setdefault(sql, Captured(sql, tuple(params or ()), via))


@pytest.fixture
def query_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[QueryLog]:
    log = QueryLog()

    def on_execute(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        log.add(statement, parameters[0] if many and parameters else parameters, "sqlalchemy")

    # Every engine in the process: the app's, and the one `maintain` makes for itself.
    event.listen(Engine, "before_cursor_execute", on_execute)
    original_connect = AsyncpgMapStore._connect

    async def logged_connect(self: AsyncpgMapStore) -> asyncpg.Connection:
        connection = await original_connect(self)
        connection.add_query_logger(lambda query: log.add(query.query, query.args, "asyncpg"))
        return connection

    monkeypatch.setattr(AsyncpgMapStore, "_connect", logged_connect)
    try:
        yield log
    finally:
        event.remove(Engine, "before_cursor_execute", on_execute)


@pytest.fixture
async def plans_app(
    plans_database: Seeding, tmp_path: Path, issuer: Issuer, query_log: QueryLog
) -> AsyncIterator[tuple[ServiceApp, httpx.AsyncClient]]:
    # A small pool, so concurrent map writes coalesce and the multi-row upsert runs too.
    settings = replace(service_settings(plans_database.url, tmp_path / "data"), db_pool_size=2)
    app = build_app(settings, issuer)
    async with running(app) as client:
        yield app, client


def walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from walk(child)


def plan_of(explained: Any) -> dict[str, Any]:
    document = json.loads(explained) if isinstance(explained, str) else explained
    root: dict[str, Any] = document[0]["Plan"]
    return root


def violations(plan: dict[str, Any], rows: dict[str, float]) -> list[str]:
    nodes = list(walk(plan))
    partitions = {
        node["Relation Name"]
        for node in nodes
        if is_partition_name(node.get("Relation Name", ""))
    }
    found: list[str] = []
    for node in nodes:
        if node["Node Type"] != "Seq Scan":
            continue
        relation = node["Relation Name"]
        if rows.get(relation, 0) < LARGE_ROWS:
            continue  # small: reading it whole is the cheapest plan (an empty month ahead)
        if is_partition_name(relation) and len(partitions) == 1:
            continue  # pruned to one month
        found.append(f"sequential scan of {relation} ({rows[relation]:.0f} rows)")
    return found


async def table_rows(url: str) -> dict[str, float]:
    connection = await asyncpg.connect(url)
    try:
        records = await connection.fetch(
            "SELECT relname, reltuples FROM pg_class WHERE relkind = 'r'"
        )
    finally:
        await connection.close()
    return {record["relname"]: record["reltuples"] for record in records}


async def explain(app: ServiceApp, captured: Captured) -> dict[str, Any]:
    statement = "EXPLAIN (FORMAT JSON) " + captured.sql
    if captured.via == "sqlalchemy":
        async with app.services.engine.connect() as connection:
            result = await connection.exec_driver_sql(statement, captured.params)
            return plan_of(result.scalar())
    store = app.services.map_store
    assert isinstance(store, AsyncpgMapStore)
    return plan_of(await store._run("fetchval", statement, captured.params))


class Driver:
    """Calls endpoints by their declared template and remembers which ones it called."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.called: set[tuple[str, str]] = set()

    async def call(
        self, method: str, template: str, headers: dict[str, str], *, expect: int,
        json_body: Any = None, params: dict[str, str] | None = None, **path: str,
    ) -> httpx.Response:  # fmt: skip
        self.called.add((method, template))
        answer = await self.client.request(
            method, template.format(**path), headers=headers, json=json_body, params=params
        )
        assert answer.status_code == expect, (method, template, answer.text)
        return answer


def map_write(user: str, practice: str, n: int) -> dict[str, Any]:
    return {
        "userId": user,
        "practiceData": {
            "practiceId": practice,
            "status": "completed",
            "progress": 1.0,
            "updatedAt": f"2027-01-01T00:00:{n % 60:02d}.{n:06d}Z",
            "state": {"n": n},
        },
    }


async def exercise(app: ServiceApp, client: httpx.AsyncClient, issuer: Issuer,
                   seeded: Seeded) -> Driver:  # fmt: skip
    driver = Driver(client)
    admin = issuer.headers("plans-admin", admin=True)
    user = seeded.user(1)
    mine = issuer.headers(user)
    practice = seeded.practice(1)
    await driver.call("GET", "/heartbeat", {}, expect=200)
    await driver.call("PUT", "/practices/{id}", admin, expect=200, id=practice, json_body={
        "title": "Breathing", "description": "Slow", "durationSeconds": 300,
        "category": "calm", "published": True,
    })  # fmt: skip
    await driver.call("GET", "/practices", mine, expect=200)
    await driver.call("GET", "/practices", admin, expect=200)
    await driver.call("GET", "/practices/{id}", mine, expect=200, id=practice)
    await driver.call("POST", "/practices/{id}/media", admin, expect=200, id=practice,
                      json_body={"contentType": "audio/mpeg"})  # fmt: skip
    await driver.call("POST", "/map", mine, expect=200, json_body=map_write(user, practice, 1))
    # The same write again is stale: the stored row is read back.
    await driver.call("POST", "/map", mine, expect=200, json_body=map_write(user, practice, 1))
    await asyncio.gather(*(
        driver.call("POST", "/map", issuer.headers(seeded.user(n)), expect=200,
                    json_body=map_write(seeded.user(n), seeded.practice(n % 50 + 1), n))
        for n in range(10, 60)
    ))  # fmt: skip
    await driver.call("GET", "/map", mine, expect=200)
    await driver.call("GET", "/map", admin, expect=200, params={"userId": seeded.user(5)})
    await driver.call("POST", "/events", mine, expect=202, json_body={"events": [
        {"name": "plans.check", "occurredAt": "2027-01-01T00:00:00Z", "properties": {"a": 1}}
    ]})  # fmt: skip
    await driver.call("GET", "/config", {}, expect=200)
    await driver.call("PUT", "/config/{key}", admin, expect=200, key="plansFlag", json_body=True)
    await driver.call("GET", "/me/export", mine, expect=200)
    await driver.call("DELETE", "/me", issuer.headers(seeded.user(2)), expect=204)
    await driver.call("DELETE", "/users/{id}", admin, expect=204, id=seeded.user(3))
    await app.services.seen.flush()
    await maintain(app.services.settings)
    return driver


async def test_every_query_the_service_runs_uses_an_index(
    plans_app: tuple[ServiceApp, httpx.AsyncClient],
    plans_database: Seeding,
    issuer: Issuer,
    query_log: QueryLog,
) -> None:
    app, client = plans_app
    driver = await exercise(app, client, issuer, plans_database.seeded)
    assert driver.called == {(e.method, e.path) for e in ENDPOINTS}, "exercise every endpoint"
    statements = list(query_log.statements.values())
    assert any("unnest(" in s.sql for s in statements if s.via == "asyncpg"), "batched upsert"
    assert any(s.sql.startswith("DELETE FROM events") for s in statements), "erasure, retention"
    rows = await table_rows(plans_database.url)
    assert rows["practice_states"] >= MAP_ROWS * 0.9 and rows["users"] >= LARGE_ROWS
    problems: dict[str, list[str]] = {}
    for captured in statements:
        found = violations(await explain(app, captured), rows)
        if found:
            problems[captured.sql] = found
    assert problems == {}, json.dumps(problems, indent=2)
    assert len(statements) >= 15


async def test_the_plan_check_catches_a_query_without_an_index(
    plans_app: tuple[ServiceApp, httpx.AsyncClient], plans_database: Seeding
) -> None:
    app, _ = plans_app
    rows = await table_rows(plans_database.url)
    unindexed = {
        "SELECT * FROM practice_states WHERE status = $1": ("completed",),
        "SELECT * FROM events WHERE occurred_at < $1": (datetime(2026, 1, 1, tzinfo=UTC),),
        "SELECT count(*) FROM events WHERE properties ->> 'n' = $1": ("5",),
        "SELECT * FROM users WHERE first_seen_at > $1": (datetime(2020, 1, 1, tzinfo=UTC),),
    }
    for sql, params in unindexed.items():
        plan = await explain(app, Captured(sql, params, "sqlalchemy"))
        assert violations(plan, rows), sql
    # One month read whole is a pruned scan, which retention's delete may do.
    month_sql = (
        "SELECT count(*) FROM events WHERE received_at >= now() - interval '200 days' "
        "AND received_at < now() - interval '199 days'"
    )
    assert violations(await explain(app, Captured(month_sql, (), "sqlalchemy")), rows) == []
