"""A real service process for the ops tools: PostgreSQL, ENVIRONMENT=local, on a free port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.postgres import PostgresCluster, free_port

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
    subprocess.run(
        [sys.executable, "-m", "service", "migrate"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=120,
        check=True,
    )
    port = free_port()
    log = data_dir / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=REPO_ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"the service exited with {process.returncode}:\n{log.read_text()[-3000:]}"
                )
            try:
                if httpx.get(f"{url}/heartbeat", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the service did not become healthy:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield LiveService(url=url, env=env, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
