"""Suite-wide fixtures: one throwaway PostgreSQL cluster shared by every test that needs it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.support.postgres import PostgresCluster, destroy_cluster, start_cluster


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster | None]:
    """The suite's own cluster, or None when TEST_DATABASE_URL points at an existing server."""
    if os.environ.get("TEST_DATABASE_URL"):
        yield None
        return
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        destroy_cluster(cluster)


@pytest.fixture(scope="session")
def postgres_url(postgres_cluster: PostgresCluster | None) -> str:
    """A PostgreSQL URL for a database of its own (`postgresql://...`), shared by the session."""
    if postgres_cluster is None:
        return os.environ["TEST_DATABASE_URL"]
    return postgres_cluster.create_database(f"t_{uuid.uuid4().hex[:12]}")
