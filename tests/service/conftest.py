"""Service fixtures: the real app in process, on PostgreSQL and on SQLite, with real tokens.

Tokens come from a stand-in OIDC issuer (a JWKS served on loopback), verified by the same
`JwksVerifier` production uses. Each backend's database is migrated once per session; tests
keep out of each other's way with unique user and practice ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from moto.server import ThreadedMotoServer

from service.app import ServiceApp, create_app
from service.auth import JwksVerifier
from service.metrics import METRICS
from service.migrate import migrate
from service.settings import Settings, load_settings
from tests.support.jwks import (
    JwksServer,
    SigningKey,
    claims,
    generate_ec_key,
    generate_rsa_key,
    mint,
)
from tests.support.live_service import serve
from tests.support.postgres import PostgresCluster

ISSUER = "https://issuer.test/"
AUDIENCE = "awaterra-tests"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@dataclass(frozen=True)
class Issuer:
    server: JwksServer
    rsa: SigningKey
    ec: SigningKey

    def token(
        self, subject: str, *, admin: bool = False, key: SigningKey | None = None, **extra: Any
    ) -> str:
        claim_set = claims(ISSUER, AUDIENCE, subject, **extra)
        if admin:
            claim_set["cognito:groups"] = ["admin"]
        return mint(key or self.rsa, claim_set)

    def headers(self, subject: str, *, admin: bool = False) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(subject, admin=admin)}"}


@pytest.fixture(scope="session")
def issuer() -> Iterator[Issuer]:
    rsa_key, ec_key = generate_rsa_key("rsa-1"), generate_ec_key("ec-1")
    with JwksServer([rsa_key, ec_key]) as server:
        yield Issuer(server, rsa_key, ec_key)


def service_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    settings = load_settings({"DATABASE_URL": database_url}, cwd=data_dir.parent)
    settings = replace(
        settings,
        data_dir=data_dir,
        storage_url=f"file://{data_dir / 'media'}",
        rate_limit_per_second=0.0,
    )
    return replace(settings, **overrides)


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'service.db'}"
    asyncio.run(migrate(service_settings(url, tmp_path_factory.mktemp("sqlite-data"))))
    return url


@pytest.fixture(scope="session")
def service_postgres_url(
    postgres_cluster: PostgresCluster | None,
    postgres_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """A database of the service tests' own on the suite's cluster, migrated."""
    url = (
        postgres_cluster.create_database(f"svc_{uuid.uuid4().hex[:10]}")
        if postgres_cluster is not None
        else postgres_url
    )
    asyncio.run(migrate(service_settings(url, tmp_path_factory.mktemp("pg-data"))))
    return url


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("service_postgres_url"))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return service_settings(database_url, tmp_path / "data")


@contextlib.asynccontextmanager
async def running(app: ServiceApp) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan running, and a client talking to it in process."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with app.starlette.router.lifespan_context(app.starlette):
        async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as client:
            yield client


def build_app(settings: Settings, issuer: Issuer) -> ServiceApp:
    verifier = JwksVerifier(issuer.server.url, ISSUER, AUDIENCE)
    return create_app(settings, verifier=verifier)


@pytest.fixture
async def app(settings: Settings, issuer: Issuer) -> ServiceApp:
    return build_app(settings, issuer)


@pytest.fixture
async def client(app: ServiceApp) -> AsyncIterator[httpx.AsyncClient]:
    async with running(app) as client:
        yield client


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def create_practice(
    client: httpx.AsyncClient, issuer: Issuer, practice_id: str | None = None, **fields: Any
) -> str:
    practice_id = practice_id or unique("p")
    body = {
        "title": "Breathing",
        "description": "Slow breaths",
        "durationSeconds": 300,
        "category": "calm",
        "published": True,
        **fields,
    }
    response = await client.put(
        f"/practices/{practice_id}", json=body, headers=issuer.headers("admin-1", admin=True)
    )
    assert response.status_code in (200, 201), response.text
    return practice_id


@pytest.fixture(scope="session")
def live_server(
    issuer: Issuer, service_postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    workdir = tmp_path_factory.mktemp("live")
    env = {
        "ENVIRONMENT": "dev",
        "DATABASE_URL": service_postgres_url,
        "STORAGE_URL": f"file://{workdir / 'media'}",
        "AUTH_JWKS_URL": issuer.server.url,
        "AUTH_ISSUER": ISSUER,
        "AUTH_AUDIENCE": AUDIENCE,
        "RATE_LIMIT_PER_SECOND": "0",
    }
    with serve(env, workdir) as base_url:
        yield base_url, workdir


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """S3 (moto) served on loopback, shared by the storage and media tests."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def batch_rows_seen() -> tuple[float, float]:
    """(statements, rows) recorded by the write-batch histogram so far."""
    count = total = 0.0
    for family in METRICS.registry.collect():
        if family.name == "awaterra_db_write_batch_rows":
            for sample in family.samples:
                if sample.name.endswith("_count"):
                    count = sample.value
                elif sample.name.endswith("_sum"):
                    total = sample.value
    return count, total
