"""The command line on a fresh machine: no variables at all, then the prod refusals."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.live_service import REPO_ROOT, serve

pytestmark = pytest.mark.slow

CLEAN_ENV = {
    name: value
    for name, value in os.environ.items()
    if not name.startswith(("AUTH_", "DB_", "DATABASE_", "STORAGE_", "ENVIRONMENT", "DATA_DIR"))
}


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**CLEAN_ENV, "PYTHONPATH": str(REPO_ROOT), **(env or {})},
        timeout=60,
        check=False,
    )


def test_fresh_machine_defaults(tmp_path: Path) -> None:
    """`migrate && serve` with nothing configured: SQLite, local files, local tokens."""
    admin = run_cli("token", "ops", "--admin", cwd=tmp_path)
    assert admin.returncode == 0, admin.stderr
    user = run_cli("token", "alice", "--ttl", "600", cwd=tmp_path)
    admin_headers = {"Authorization": f"Bearer {admin.stdout.strip()}"}
    user_headers = {"Authorization": f"Bearer {user.stdout.strip()}"}

    with (
        serve(
            {"PYTHONPATH": str(REPO_ROOT), **{k: "" for k in ("DATABASE_URL",)}}, tmp_path
        ) as base_url,
        httpx.Client(base_url=base_url, timeout=10) as client,
    ):
        assert (tmp_path / ".data" / "service.db").exists()
        heartbeat = client.get("/heartbeat").json()
        assert heartbeat["status"] == "ok"
        practice = {
            "title": "Sit",
            "description": "",
            "durationSeconds": 60,
            "category": "c",
            "published": True,
        }
        assert client.put("/practices/sit", json=practice, headers=admin_headers).status_code == 201
        assert client.put("/practices/sit", json=practice, headers=user_headers).status_code == 403
        write = {
            "userId": "alice",
            "practiceData": {
                "practiceId": "sit",
                "status": "in_progress",
                "progress": 0.2,
                "updatedAt": "2026-03-01T08:00:00Z",
            },
        }
        response = client.post("/map", json=write, headers=user_headers)
        assert response.status_code == 200 and response.json()["applied"] is True

        upload = client.post("/practices/sit/media", headers=admin_headers).json()["data"]
        put = client.put(
            upload["uploadUrl"],
            content=b"audio",
            headers={"Content-Type": "application/octet-stream"},
        )
        assert put.status_code == 200, put.text
        assert (tmp_path / ".data" / "storage" / upload["mediaKey"]).read_bytes() == b"audio"


def test_token_options_and_refusals(tmp_path: Path) -> None:
    assert run_cli("token", "x", "--ttl", "0", cwd=tmp_path).returncode == 2
    prod = run_cli(
        "token",
        "x",
        cwd=tmp_path,
        env={
            "ENVIRONMENT": "prod",
            "DATABASE_URL": "postgresql://u@h/d",
            "STORAGE_URL": "s3://bucket",
            "AUTH_JWKS_URL": "https://i/jwks",
            "AUTH_ISSUER": "https://i/",
            "AUTH_AUDIENCE": "a",
        },
    )
    assert prod.returncode == 2 and "ENVIRONMENT=prod" in prod.stderr
    assert prod.stdout == ""


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"ENVIRONMENT": "prod"}, "AUTH_JWKS_URL"),
        (
            {
                "ENVIRONMENT": "prod",
                "AUTH_JWKS_URL": "https://i/jwks",
                "AUTH_ISSUER": "i",
                "AUTH_AUDIENCE": "a",
            },
            "DATABASE_URL",
        ),
        ({"ENVIRONMENT": "dev"}, "AUTH_ISSUER"),
    ],
)
def test_serve_refuses_unsafe_configuration(
    tmp_path: Path, env: dict[str, str], missing: str
) -> None:
    result = run_cli("serve", "--port", "1", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert missing in result.stderr
    assert "Traceback" not in result.stderr
