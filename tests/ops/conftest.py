"""A real service process for the ops tools: PostgreSQL, ENVIRONMENT=local, on a free port."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.live_service import serve
from tests.support.postgres import PostgresCluster

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60


@dataclass(frozen=True)
class LiveService:
    url: str
    env: dict[str, str]
    log: Path

    def token(self, subject: str, admin: bool = False) -> str:
        """A token from `python -m service token`, signed with this service's local key."""
        argv = [sys.executable, "-m", "service", "token", subject, *(["--admin"] if admin else [])]
        done = subprocess.run(
            argv,
            env=self.env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout.strip()


@pytest.fixture(scope="session")
def live_service(
    postgres_cluster: PostgresCluster | None,
    postgres_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveService]:
    database_url = (
        postgres_cluster.create_database(f"ops_{uuid.uuid4().hex[:12]}")
        if postgres_cluster is not None
        else postgres_url
    )
    data_dir = tmp_path_factory.mktemp("ops-service")
    env = {
        **os.environ,
        "ENVIRONMENT": "local",
        "DATABASE_URL": database_url,
        "DATA_DIR": str(data_dir),
        "LOG_LEVEL": "warning",
    }
    for name in ("AUTH_JWKS_URL", "AUTH_ISSUER", "AUTH_AUDIENCE", "STORAGE_URL"):
        env.pop(name, None)
    with serve(env, data_dir, timeout=START_TIMEOUT_S) as url:
        yield LiveService(url=url, env=env, log=data_dir / "serve.log")
