"""The jobs (`migrate`, `maintain`) run with the database settings alone; `serve` still needs all.

The stacks hand the one-off jobs only ENVIRONMENT, the DB_* parts, LOG_LEVEL and the retention
(least privilege: never the panel's session key, the bucket or the issuer). These tests run the
real command line in prod mode against a database of their own on the suite's PostgreSQL with
exactly that environment, and check that `serve` keeps refusing what it always refused.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from service.settings import SettingsError, load_settings
from tests.support.live_service import REPO_ROOT
from tests.support.postgres import PostgresCluster

pytestmark = pytest.mark.slow

AUTH = {
    "AUTH_JWKS_URL": "https://issuer.test/jwks.json",
    "AUTH_ISSUER": "https://issuer.test/",
    "AUTH_AUDIENCE": "app",
}
DB_ONLY = {"ENVIRONMENT": "prod", "DATABASE_URL": "postgresql://svc@db.internal/app"}


def database_parts(url: str) -> dict[str, str]:
    """The DB_* variables the stacks set, for a `postgresql://` URL."""
    parts = urlsplit(url)
    variables = {
        "DB_HOST": parts.hostname or "",
        "DB_PORT": str(parts.port or 5432),
        "DB_NAME": parts.path.lstrip("/"),
        "DB_USER": unquote(parts.username or ""),
    }
    if parts.password:
        variables["DB_PASSWORD"] = unquote(parts.password)
    return variables


@pytest.fixture
def job_database(postgres_cluster: PostgresCluster | None, postgres_url: str) -> str:
    """A database no one has migrated yet (or the given server's, where migrate is a no-op)."""
    if postgres_cluster is None:
        return postgres_url
    return postgres_cluster.create_database(f"job_{uuid.uuid4().hex[:10]}")


def run_cli(
    *args: str, env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    # Nothing inherited but PATH: the job sees exactly what a task definition would give it.
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO_ROOT), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_migrate_and_maintain_run_in_prod_with_only_the_database(
    job_database: str, tmp_path: Path
) -> None:
    env = {"ENVIRONMENT": "prod", **database_parts(job_database), "LOG_LEVEL": "info"}
    migrated = run_cli("migrate", env=env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert "database schema is current" in migrated.stdout + migrated.stderr
    maintained = run_cli("maintain", env={**env, "EVENT_RETENTION_DAYS": "30"}, cwd=tmp_path)
    assert maintained.returncode == 0, maintained.stderr
    assert "maintain done in" in maintained.stdout
    assert "deleted 0 events received before" in maintained.stdout
    # Nothing local was used in place of what was not given (no SQLite, no key, no store).
    assert not (tmp_path / ".data").exists()


def test_a_job_ignores_the_panels_settings(job_database: str, tmp_path: Path) -> None:
    """A panel client id without its session key stops `serve`, never a job."""
    env = {
        "ENVIRONMENT": "prod",
        **database_parts(job_database),
        "ADMIN_OIDC_CLIENT_ID": "panel",
        "ADMIN_BASE_URL": "not an origin",
    }
    migrated = run_cli("migrate", env=env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr


def test_serve_in_prod_without_the_session_key_still_fails_naming_it(tmp_path: Path) -> None:
    env = {
        **DB_ONLY,
        **AUTH,
        "STORAGE_URL": "s3://bucket",
        "ADMIN_OIDC_CLIENT_ID": "panel",
        "ADMIN_BASE_URL": "https://api.example.com",
    }
    refused = run_cli("serve", "--port", "1", env=env, cwd=tmp_path)
    assert refused.returncode == 2
    assert "ADMIN_SESSION_KEY must be set when ENVIRONMENT=prod" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_unconfigured_jobs_in_prod_name_only_the_database(tmp_path: Path) -> None:
    for command in ("migrate", "maintain"):
        refused = run_cli(command, env={"ENVIRONMENT": "prod"}, cwd=tmp_path)
        assert refused.returncode == 2
        assert "DATABASE_URL" in refused.stderr
        assert "AUTH_" not in refused.stderr and "STORAGE_URL" not in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    served = run_cli("serve", "--port", "1", env={"ENVIRONMENT": "prod"}, cwd=tmp_path)
    assert served.returncode == 2
    for name in ("AUTH_JWKS_URL", "AUTH_ISSUER", "AUTH_AUDIENCE", "DATABASE_URL", "STORAGE_URL"):
        assert name in served.stderr


def test_job_settings_hold_no_serving_settings() -> None:
    env = {
        **DB_ONLY,
        **AUTH,
        "STORAGE_URL": "azure://not-read",
        "ADMIN_SESSION_KEY": "short",
        "RATE_LIMIT_PER_SECOND": "fast",
    }
    job = load_settings(env, serving=False)
    assert job.storage_url is None
    assert (job.auth_issuer, job.auth_jwks_url, job.auth_audience) == (None, None, None)
    assert job.admin.session_key is None and job.admin.oidc_client_id is None
    # The same variables are read, and refused, for the server.
    with pytest.raises(SettingsError, match="STORAGE_URL"):
        load_settings(env)


@pytest.mark.parametrize(
    ("extra", "name"),
    [
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"DATABASE_URL": "", "DB_HOST": "h", "DB_NAME": "n", "DB_USER": "u", "DB_PORT": "x"},
         "DB_PORT"),
        ({"DB_SSLMODE": "sometimes"}, "DB_SSLMODE"),
        ({"DB_POOL_SIZE": "0"}, "DB_POOL_SIZE"),
        ({"LOG_LEVEL": "chatty"}, "LOG_LEVEL"),
        ({"EVENT_RETENTION_DAYS": "a year"}, "EVENT_RETENTION_DAYS"),
        ({"DATABASE_URL": ""}, "DATABASE_URL"),
    ],
)  # fmt: skip
def test_a_job_refuses_a_bad_value_of_what_it_uses(extra: dict[str, str], name: str) -> None:
    with pytest.raises(SettingsError, match=name) as refused:
        load_settings({**DB_ONLY, **extra}, serving=False)
    assert "\n" not in str(refused.value)
