"""Migrations: match the models, safe twice, safe from two processes at once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from service.db import create_engine
from service.migrate import alembic_config, head_revision, migrate
from service.models import metadata
from tests.service.conftest import service_settings
from tests.support.live_service import REPO_ROOT
from tests.support.postgres import PostgresCluster

pytestmark = pytest.mark.anyio


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def _indexes(connection: Connection) -> dict[str, list[list[str | None]]]:
    inspector = inspect(connection)
    return {
        table: [index["column_names"] for index in inspector.get_indexes(table)]
        for table in inspector.get_table_names()
    }


async def test_schema_matches_models_and_every_query_path_is_indexed(
    database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(service_settings(database_url, tmp_path))
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
            indexes = await connection.run_sync(_indexes)
    finally:
        await engine.dispose()
    assert ["practice_id"] in indexes["practice_states"]
    assert ["published", "id"] in indexes["practices"]
    assert ["user_id", "occurred_at"] in indexes["events"]
    assert ["name", "occurred_at"] in indexes["events"]
    assert ["last_seen_at"] in indexes["users"]


async def test_migrating_twice_is_harmless(database_url: str, tmp_path: Path) -> None:
    settings = service_settings(database_url, tmp_path)
    assert await migrate(settings) == head_revision()
    assert await migrate(settings) == head_revision()


def _fresh_database(kind: str, cluster: PostgresCluster | None, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    if cluster is None:
        pytest.skip("needs the suite's own cluster to create a fresh database")
    return cluster.create_database(f"mig_{uuid.uuid4().hex[:10]}")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_two_processes_migrate_a_fresh_database_at_once(
    kind: str, postgres_cluster: PostgresCluster | None, tmp_path: Path
) -> None:
    url = _fresh_database(kind, postgres_cluster, tmp_path)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "DATABASE_URL": url,
        "DATA_DIR": str(tmp_path / "data"),
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "service", "migrate"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=120)[0].decode() for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    # One did the work (every revision), the other found it done.
    workers = [output for output in outputs if "Running upgrade" in output]
    assert len(workers) == 1, outputs
    revisions = len(list(ScriptDirectory.from_config(alembic_config()).walk_revisions()))
    assert workers[0].count("Running upgrade") == revisions, outputs
    settings = service_settings(url, tmp_path / "data")
    assert asyncio.run(migrate(settings)) == head_revision()
