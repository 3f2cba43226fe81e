"""The schema's owner migrates, the service's own role serves (`DB_APP_ROLE`, service/grants.py).

As the Google Cloud stack runs it: the jobs sign in as an owner that is no superuser, the
service as a second role that owns nothing (its name shaped like a Cloud SQL IAM user's, with
'@' and '.'). On the suite's real PostgreSQL: the API works end to end as that role, the role
can change no schema and no audit record, partitions `maintain` creates are its to use, and a
role that does not exist is refused with the schema left as it was.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

import asyncpg
import pytest

from service import grants as service_grants
from service.grants import GrantError, grant_statements, quote_role
from service.maintain import maintain
from service.migrate import ADVISORY_LOCK_KEY, head_revision, migrate
from service.partitions import Month
from service.settings import Settings, SettingsError, load_settings
from tests.service.conftest import (
    Issuer,
    build_app,
    create_practice,
    running,
    service_settings,
    unique,
)
from tests.service.test_account import map_write, seed_user
from tests.support.live_service import REPO_ROOT
from tests.support.postgres import PostgresCluster

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Roles:
    """A database owned by `owner`, and the service's role `app` beside it."""

    server: str  # the superuser's URL, without a database
    database: str
    owner: str
    app: str

    def url(self, role: str) -> str:
        return f"{self.server}/{self.database}".replace("postgres@", f"{quote(role, safe='')}@", 1)


def _psql(cluster: PostgresCluster, sql: str, database: str = "postgres") -> None:
    subprocess.run(
        [str(cluster.bindir / "psql"), "-h", "127.0.0.1", "-p", str(cluster.port), "-U",
         "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True, capture_output=True,
    )  # fmt: skip


@pytest.fixture
def roles(postgres_cluster: PostgresCluster | None) -> Iterator[Roles]:
    if postgres_cluster is None:
        pytest.skip("needs the suite's own cluster to create roles")
    tag = uuid.uuid4().hex[:10]
    owner, app = f"owner_{tag}", f"app-{tag}@project.iam"
    database = f"own_{tag}"
    _psql(postgres_cluster, f"CREATE ROLE {owner} LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB")
    _psql(postgres_cluster, f"CREATE ROLE {quote_role(app)} LOGIN NOSUPERUSER")
    _psql(postgres_cluster, f"CREATE DATABASE {database} OWNER {owner}")
    server = postgres_cluster.url.rsplit("/", 1)[0]
    yield Roles(server, database, owner, app)


def settings_as(roles: Roles, role: str, tmp_path: Path, app_role: str | None = None) -> Settings:
    return replace(service_settings(roles.url(role), tmp_path / "data"), db_app_role=app_role)


@pytest.fixture
async def migrated(roles: Roles, tmp_path: Path) -> Roles:
    revision = await migrate(settings_as(roles, roles.owner, tmp_path, roles.app))
    assert revision == head_revision()
    return roles


@pytest.fixture
async def as_app(migrated: Roles) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(migrated.url(migrated.app))
    try:
        yield connection
    finally:
        await connection.close()


async def test_the_schema_belongs_to_the_owner_and_the_app_role_owns_nothing(
    migrated: Roles,
) -> None:
    connection = await asyncpg.connect(migrated.url(migrated.owner))
    try:
        owners = await connection.fetch(
            "SELECT c.relname, pg_get_userbyid(c.relowner) AS owner FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
        )
        superuser = await connection.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = $1",
                                              migrated.owner)  # fmt: skip
    finally:
        await connection.close()
    assert owners, "the migration created nothing"
    assert {row["owner"] for row in owners} == {migrated.owner}
    assert superuser is False


async def test_the_api_works_end_to_end_as_the_app_role(
    migrated: Roles, issuer: Issuer, tmp_path: Path
) -> None:
    app = build_app(settings_as(migrated, migrated.app, tmp_path), issuer)
    async with running(app) as client:
        practice, user = await create_practice(client, issuer), unique("u")
        await seed_user(client, issuer, user, practice)
        assert (await client.get("/map", headers=issuer.headers(user))).status_code == 200
        assert (await client.get("/practices", headers=issuer.headers(user))).status_code == 200
        config = await client.put(
            "/config/motd", json="hi", headers=issuer.headers("adm", admin=True)
        )
        assert config.status_code in (200, 201), config.text
        await app.services.seen.flush()
        exported = await client.get("/me/export", headers=issuer.headers(user))
        assert exported.status_code == 200
        assert len(exported.json()["data"]["events"]) == 2
        assert (await client.delete("/me", headers=issuer.headers(user))).status_code == 204
        other = unique("u")
        await seed_user(client, issuer, other, practice)
        erased = await client.delete(f"/users/{other}", headers=issuer.headers("adm", admin=True))
        assert erased.status_code == 204, erased.text
        again = await client.post("/map", json=map_write(user, practice, step=2),
                                  headers=issuer.headers(user))  # fmt: skip
        assert again.status_code == 200
    connection = await asyncpg.connect(migrated.url(migrated.app))
    try:
        actions = [row["action"] for row in await connection.fetch("SELECT action FROM audit_log")]
    finally:
        await connection.close()
    # The admin's writes were recorded, as the service's role.
    assert "practice.create" in actions and "config.set" in actions
    assert len(actions) >= 3


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE sneaky (id int)",
        "DROP TABLE practices",
        "ALTER TABLE practice_states ADD COLUMN extra int",
        "TRUNCATE events",
        "CREATE INDEX sneaky ON events (name)",
        "UPDATE audit_log SET actor = 'someone else'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "UPDATE alembic_version SET version_num = 'x'",
        "DELETE FROM alembic_version",
        "DROP FUNCTION erase_user_data(varchar, varchar)",
    ],
)
async def test_the_app_role_cannot_change_the_schema_or_the_record(
    as_app: asyncpg.Connection, statement: str
) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await as_app.execute(statement)


async def test_the_app_role_reads_and_writes_rows(as_app: asyncpg.Connection) -> None:
    # Row privileges on every table the service uses, and the events' id sequence.
    tables = ("erased_users", "practices", "practice_states", "events", "users", "config",
              "audit_log", "alembic_version")  # fmt: skip
    for table in tables:
        await as_app.fetch(f"SELECT * FROM {table} LIMIT 1")
    user = unique("u")
    await as_app.execute(
        "INSERT INTO events (user_id, name, occurred_at, received_at, properties) "
        "VALUES ($1, 'x', now(), now(), '{}')",
        user,
    )
    assert await as_app.fetchval("DELETE FROM events WHERE user_id = $1 RETURNING 1", user) == 1


async def test_partitions_maintain_creates_are_the_app_roles_to_use(
    migrated: Roles, tmp_path: Path
) -> None:
    owner = await asyncpg.connect(migrated.url(migrated.owner))
    newest = await owner.fetchval(
        "SELECT max(c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'events'::regclass"
    )
    # Made again by `maintain`, the owner's job, after the migration's grants ran.
    await owner.execute(f"DROP TABLE {newest}")
    await owner.close()
    await maintain(settings_as(migrated, migrated.owner, tmp_path))
    app = await asyncpg.connect(migrated.url(migrated.app))
    try:
        month = Month.from_name(newest)
        assert month is not None
        user = unique("u")
        await app.execute(
            "INSERT INTO events (user_id, name, occurred_at, received_at, properties) "
            "VALUES ($1, 'x', $2, $2, '{}')",
            user,
            month.start,
        )
        # Read straight from the new partition: the default privileges reached it.
        assert await app.fetchval(f"SELECT count(*) FROM {newest} WHERE user_id = $1", user) == 1
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app.execute(f"DROP TABLE {newest}")
    finally:
        await app.close()


async def test_a_missing_app_role_is_refused_and_the_schema_left_as_it_was(
    roles: Roles, tmp_path: Path
) -> None:
    with pytest.raises(GrantError, match="does not exist"):
        await migrate(settings_as(roles, roles.owner, tmp_path, "nobody@project.iam"))
    connection = await asyncpg.connect(roles.url(roles.owner))
    try:
        tables = await connection.fetchval(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        )
        # The advisory lock was given back: a second migration gets it at once.
        free = await connection.fetchval("SELECT pg_try_advisory_lock($1)", ADVISORY_LOCK_KEY)
    finally:
        await connection.close()
    assert tables == 0
    assert free is True


def test_the_command_line_names_a_missing_role(roles: Roles, tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO_ROOT),
        "ENVIRONMENT": "prod",
        "DATABASE_URL": roles.url(roles.owner),
        "DB_APP_ROLE": "nobody@project.iam",
    }
    refused = subprocess.run(
        [sys.executable, "-m", "service", "migrate"], env=env, cwd=tmp_path,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert refused.returncode == 1
    assert "migrate: DB_APP_ROLE names role 'nobody@project.iam'" in refused.stderr
    assert "Traceback" not in refused.stderr
    granted = subprocess.run(
        [sys.executable, "-m", "service", "migrate"], env={**env, "DB_APP_ROLE": roles.app},
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert granted.returncode == 0, granted.stderr
    assert roles.app in granted.stdout + granted.stderr


async def test_the_owner_as_its_own_app_role_changes_nothing(roles: Roles, tmp_path: Path) -> None:
    assert await migrate(settings_as(roles, roles.owner, tmp_path, roles.owner)) == head_revision()
    # And a second run with the real app role grants on a current schema (idempotent).
    assert await migrate(settings_as(roles, roles.owner, tmp_path, roles.app)) == head_revision()
    assert await migrate(settings_as(roles, roles.owner, tmp_path, roles.app)) == head_revision()


def test_grants_quote_the_role_and_take_back_the_record() -> None:
    statements = grant_statements('app@p.iam"; DROP TABLE users; --')
    assert all('"app@p.iam""; DROP TABLE users; --"' in s for s in statements)
    revokes = [s for s in statements if s.startswith("REVOKE")]
    assert any("audit_log" in s and "UPDATE" in s and "DELETE" in s for s in revokes)
    assert any("alembic_version" in s and "INSERT" in s for s in revokes)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_URL": "sqlite:///x.db", "DB_APP_ROLE": "app"}, "SQLite has no roles"),
        ({"DATABASE_URL": "postgresql://o@h/d", "DB_APP_ROLE": "app; DROP"}, "DB_APP_ROLE must"),
        ({"DATABASE_URL": "postgresql://o@h/d", "DB_APP_ROLE": "a" * 64}, "DB_APP_ROLE must"),
    ],
)
def test_bad_app_roles_are_refused_naming_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(env, serving=False)


def test_an_app_role_is_read_for_postgresql() -> None:
    env = {"DATABASE_URL": "postgresql://o@h/d", "DB_APP_ROLE": " svc@p.iam "}
    assert load_settings(env, serving=False).db_app_role == "svc@p.iam"
    assert load_settings({"DATABASE_URL": "postgresql://o@h/d"}).db_app_role is None


# --- AWS: the service's role is migrate's to create (DB_APP_ROLE_IAM=aws) ----------------


@pytest.fixture
def rds_like(
    postgres_cluster: PostgresCluster | None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Roles]:
    """A database owned by a master user that may create roles (as RDS's is), and a stand-in
    for RDS's `rds_iam` role under a name of this test's own."""
    if postgres_cluster is None:
        pytest.skip("needs the suite's own cluster to create roles")
    tag = uuid.uuid4().hex[:10]
    master, iam_role, database = f"master_{tag}", f"rds_iam_{tag}", f"rds_{tag}"
    _psql(postgres_cluster, f"CREATE ROLE {master} LOGIN CREATEROLE NOSUPERUSER")
    _psql(postgres_cluster, f"CREATE ROLE {iam_role} NOLOGIN")
    _psql(postgres_cluster, f"GRANT {iam_role} TO {master} WITH ADMIN OPTION")
    _psql(postgres_cluster, f"CREATE DATABASE {database} OWNER {master}")
    monkeypatch.setattr("service.grants.RDS_IAM_ROLE", iam_role)
    server = postgres_cluster.url.rsplit("/", 1)[0]
    yield Roles(server, database, master, f"app_{tag}")


async def test_migrate_creates_the_iam_role_on_aws_and_grants_it_rows_only(
    rds_like: Roles, tmp_path: Path
) -> None:
    settings = replace(
        settings_as(rds_like, rds_like.owner, tmp_path, rds_like.app), db_app_role_iam="aws"
    )
    assert await migrate(settings) == head_revision()
    assert await migrate(settings) == head_revision()  # a second run finds it all done
    connection = await asyncpg.connect(rds_like.url(rds_like.owner))
    try:
        role = await connection.fetchrow(
            "SELECT rolcanlogin, rolsuper, rolcreaterole FROM pg_roles WHERE rolname = $1",
            rds_like.app,
        )
        member = await connection.fetchval(
            "SELECT pg_has_role($1, $2, 'MEMBER')", rds_like.app, service_grants.RDS_IAM_ROLE
        )
    finally:
        await connection.close()
    assert role is not None and role["rolcanlogin"] is True
    assert (role["rolsuper"], role["rolcreaterole"]) == (False, False)
    assert member is True
    app = await asyncpg.connect(rds_like.url(rds_like.app))
    try:
        await app.fetch("SELECT * FROM practice_states LIMIT 1")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app.execute("DROP TABLE practice_states")
    finally:
        await app.close()


async def test_without_rds_iam_the_aws_role_is_refused_and_nothing_changes(
    rds_like: Roles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("service.grants.RDS_IAM_ROLE", "rds_iam_absent")
    settings = replace(
        settings_as(rds_like, rds_like.owner, tmp_path, rds_like.app), db_app_role_iam="aws"
    )
    with pytest.raises(GrantError, match="only RDS has"):
        await migrate(settings)
    connection = await asyncpg.connect(rds_like.url(rds_like.owner))
    try:
        created = await connection.fetchval(
            "SELECT count(*) FROM pg_roles WHERE rolname = $1", rds_like.app
        )
        tables = await connection.fetchval(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        )
    finally:
        await connection.close()
    assert (created, tables) == (0, 0)


async def test_the_master_user_cannot_be_its_own_iam_role(rds_like: Roles, tmp_path: Path) -> None:
    settings = replace(
        settings_as(rds_like, rds_like.owner, tmp_path, rds_like.owner), db_app_role_iam="aws"
    )
    with pytest.raises(GrantError, match="must be another one"):
        await migrate(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DB_APP_ROLE_IAM": "aws"}, "DB_APP_ROLE .the role. is not"),
        ({"DB_APP_ROLE": "app", "DB_APP_ROLE_IAM": "gcp"}, "DB_APP_ROLE_IAM must be aws"),
    ],
)
def test_bad_iam_role_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({"DATABASE_URL": "postgresql://o@h/d", **env}, serving=False)
