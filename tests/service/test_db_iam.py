"""IAM database sign-in, Cloud SQL's and RDS's, with TLS required, rehearsed against a
throwaway PostgreSQL cluster that only accepts TLS (a self-signed certificate made here).

Cloud SQL: the service-account role's password is the access token a loopback metadata server
hands out. RDS: the token is made locally by botocore from the process's credentials; each one
is checked against the SigV4 rules as RDS checks it (tests/support/sigv4.py), and the role's
password is set to the token the provider made, so signing in proves both pools send it.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import pwd
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import text

from service import db_connect
from service.db import create_engine
from service.mapstore import AsyncpgMapStore
from service.queries import build_queries
from service.settings import Settings, SettingsError, load_settings
from tests.support.google import MetadataServer, new_rsa_key, use_metadata_host
from tests.support.postgres import PostgresCluster, destroy_cluster, start_cluster
from tests.support.sigv4 import TokenRefused, check_rds_token

ROLE = "awaterra-sa@awaterra-test.iam"  # Cloud SQL's IAM user: the email less .gserviceaccount.com
EMAIL = "awaterra-sa@awaterra-test.iam.gserviceaccount.com"
WHO = "SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


@dataclass(frozen=True)
class TlsCluster:
    cluster: PostgresCluster
    root_cert: Path

    def admin(self, sql: str) -> None:
        subprocess.run(
            [
                str(self.cluster.bindir / "psql"),
                f"host=127.0.0.1 port={self.cluster.port} user=postgres dbname=postgres "
                f"sslmode=verify-full sslrootcert={self.root_cert}",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
        )


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsCluster]:
    cluster = start_cluster()
    try:
        cluster.stop()
        cert, key = _self_signed(cluster.datadir)
        if cluster.run_as:
            uid = pwd.getpwnam(cluster.run_as).pw_uid
            os.chown(cert, uid, -1)
            os.chown(key, uid, -1)
        with (cluster.datadir / "postgresql.conf").open("a") as conf:
            conf.write(f"\nssl = on\nssl_cert_file = '{cert}'\nssl_key_file = '{key}'\n")
        # TLS or nothing: plain TCP is refused outright; the IAM role needs its password.
        (cluster.datadir / "pg_hba.conf").write_text(
            "hostnossl all all 0.0.0.0/0 reject\n"
            "hostssl all postgres 127.0.0.1/32 trust\n"
            "hostssl all all 127.0.0.1/32 scram-sha-256\n"
        )
        cluster.start()
        root = tmp_path_factory.mktemp("tls") / "root.crt"
        root.write_bytes(cert.read_bytes())
        tls = TlsCluster(cluster, root)
        tls.admin(f'CREATE ROLE "{ROLE}" LOGIN')
        yield tls
    finally:
        destroy_cluster(cluster)


@pytest.fixture
def metadata(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[MetadataServer]:
    with MetadataServer(new_rsa_key(), EMAIL) as server:
        monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
        monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))
        use_metadata_host(monkeypatch, server.host)
        db_connect._shared_token.cache_clear()  # one provider per process; a fresh one here
        yield server
        db_connect._shared_token.cache_clear()


def iam_settings(tls: TlsCluster, sslmode: str = "verify-full") -> Settings:
    return load_settings(
        {
            "DB_HOST": "127.0.0.1",
            "DB_PORT": str(tls.cluster.port),
            "DB_NAME": "postgres",
            "DB_USER": ROLE,
            "DB_IAM_AUTH": "gcp",
            "DB_SSLMODE": sslmode,
            "DB_SSLROOTCERT": str(tls.root_cert),
        },
        cwd=Path("/tmp"),
    )


async def who_via_engine(settings: Settings) -> tuple[str, bool]:
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            row = (await connection.execute(text(WHO))).one()
            return row[0], row[1]
    finally:
        await engine.dispose()


async def who_via_map_store(settings: Settings) -> tuple[str, bool]:
    store = AsyncpgMapStore(settings, build_queries("postgresql"))
    connection = await store._connect()
    try:
        row = await connection.fetchrow(WHO)
        assert row is not None
        return row[0], row[1]
    finally:
        await connection.close()


def test_both_pools_sign_in_with_the_metadata_token_over_verified_tls(
    tls_cluster: TlsCluster, metadata: MetadataServer
) -> None:
    tls_cluster.admin(f"ALTER ROLE \"{ROLE}\" PASSWORD 'token-1'")
    settings = iam_settings(tls_cluster)
    assert asyncio.run(who_via_engine(settings)) == (ROLE, True)
    assert asyncio.run(who_via_map_store(settings)) == (ROLE, True)
    assert metadata.calls.tokens == 1, "a valid token is reused by every new connection"


def test_an_expired_token_is_fetched_again(
    tls_cluster: TlsCluster, metadata: MetadataServer
) -> None:
    metadata.token_ttl = 1  # google-auth counts tokens this close to expiry as expired
    tls_cluster.admin(f"ALTER ROLE \"{ROLE}\" PASSWORD 'token-1'")
    settings = iam_settings(tls_cluster)
    assert asyncio.run(who_via_map_store(settings)) == (ROLE, True)
    # The server now only takes the next token: only a fresh fetch gets in.
    tls_cluster.admin(f"ALTER ROLE \"{ROLE}\" PASSWORD 'token-2'")
    assert asyncio.run(who_via_engine(settings)) == (ROLE, True)
    assert metadata.calls.tokens == 2


def test_a_wrong_token_is_refused(tls_cluster: TlsCluster, metadata: MetadataServer) -> None:
    tls_cluster.admin(f"ALTER ROLE \"{ROLE}\" PASSWORD 'not-the-token'")
    with pytest.raises(asyncpg.InvalidPasswordError):
        asyncio.run(who_via_map_store(iam_settings(tls_cluster)))


def test_plain_tcp_is_refused_and_verify_full_checks_the_certificate(
    tls_cluster: TlsCluster, metadata: MetadataServer, tmp_path: Path
) -> None:
    async def plain() -> None:
        await asyncpg.connect(
            host="127.0.0.1", port=tls_cluster.cluster.port, user="postgres", ssl="disable"
        )

    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError, match="no encryption"):
        asyncio.run(plain())

    other = tmp_path / "other.crt"
    other.write_bytes(_self_signed(tmp_path)[0].read_bytes())  # a CA that did not sign it
    settings = iam_settings(tls_cluster)
    forged = load_settings(
        {
            "DB_HOST": "127.0.0.1",
            "DB_PORT": str(tls_cluster.cluster.port),
            "DB_NAME": "postgres",
            "DB_USER": ROLE,
            "DB_IAM_AUTH": "gcp",
            "DB_SSLMODE": "verify-full",
            "DB_SSLROOTCERT": str(other),
        },
        cwd=Path("/tmp"),
    )
    assert settings.db_connect_args()["ssl"].verify_mode == ssl.CERT_REQUIRED
    with pytest.raises(ssl.SSLCertVerificationError):
        asyncio.run(who_via_map_store(forged))


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"DB_IAM_AUTH": "azure"}, "DB_IAM_AUTH must be gcp or aws"),
        ({"DB_IAM_AUTH": "aws", "DB_SSLMODE": "require"}, "needs the database's region"),
        ({"DB_IAM_AUTH": "aws", "DB_PASSWORD": "x", "DB_SSLMODE": "require"}, "remove DB_PASSWORD"),
        ({"DB_IAM_AUTH": "aws", "AWS_REGION": "eu-west-1"}, "needs TLS"),
        ({"DB_IAM_AUTH": "gcp", "DB_PASSWORD": "x", "DB_SSLMODE": "require"}, "remove DB_PASSWORD"),
        ({"DB_IAM_AUTH": "gcp"}, "needs TLS"),
        ({"DB_IAM_AUTH": "gcp", "DB_SSLMODE": "disable"}, "needs TLS"),
        ({"DB_SSLMODE": "always"}, "DB_SSLMODE must be one of"),
        ({"DB_SSLMODE": "require", "DB_SSLROOTCERT": "/nonexistent.crt"}, "no readable file"),
        ({"DB_SSLROOTCERT": "/etc/hostname"}, "set DB_SSLMODE=verify-full"),
    ],
)
def test_connection_settings_refuse_what_cannot_work(env: dict[str, str], complaint: str) -> None:
    base = {"DB_HOST": "db.internal", "DB_NAME": "app", "DB_USER": "sa"}
    with pytest.raises(SettingsError, match=complaint):
        load_settings({**base, **env}, cwd=Path("/tmp"))


def test_iam_auth_needs_postgres() -> None:
    with pytest.raises(SettingsError, match="needs PostgreSQL"):
        load_settings({"DB_IAM_AUTH": "gcp", "DB_SSLMODE": "require"}, cwd=Path("/tmp"))


def test_without_the_new_variables_nothing_changes() -> None:
    settings = load_settings({"DB_HOST": "h", "DB_NAME": "n", "DB_USER": "u"}, cwd=Path("/tmp"))
    assert settings.db_connect_args() == {}


# --- RDS: IAM authentication tokens -------------------------------------------------------

ACCESS_KEY, SECRET_KEY = "AKIAAWATERRATEST0001", "awaterra-test-secret-key-not-a-real-one"
RDS_ROLE = "awaterra_app"


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Static credentials from the environment (as the task role's reach botocore on ECS), and
    no shared files: nothing but these can sign."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    db_connect._shared_rds_token.cache_clear()
    yield
    db_connect._shared_rds_token.cache_clear()


def rds_settings(tls: TlsCluster, **extra: str) -> Settings:
    return load_settings(
        {
            "DB_HOST": "127.0.0.1",
            "DB_PORT": str(tls.cluster.port),
            "DB_NAME": "postgres",
            "DB_USER": RDS_ROLE,
            "DB_IAM_AUTH": "aws",
            "DB_SSLMODE": "verify-full",
            "DB_SSLROOTCERT": str(tls.root_cert),
            "AWS_REGION": "eu-west-1",
            **extra,
        },
        cwd=Path("/tmp"),
    )


def test_an_rds_token_is_a_valid_signed_connect_request(aws_credentials: None) -> None:
    target = db_connect.RdsUser("db-1.abc.eu-west-1.rds.amazonaws.com", 5432, "awaterra_app",
                                "eu-west-1")  # fmt: skip
    provider = db_connect.RdsAuthToken(target)
    token = asyncio.run(provider())
    checked = check_rds_token(token, SECRET_KEY, now=datetime.datetime.now(datetime.UTC))
    assert checked.host == "db-1.abc.eu-west-1.rds.amazonaws.com:5432"
    assert (checked.user, checked.access_key, checked.region) == (
        "awaterra_app", ACCESS_KEY, "eu-west-1"
    )
    assert checked.expires_seconds == 900
    # Signed with another key, or altered, it is refused: the check can fail.
    with pytest.raises(TokenRefused, match="signature"):
        check_rds_token(token, "another-secret")
    with pytest.raises(TokenRefused, match="signature"):
        check_rds_token(token.replace("DBUser=awaterra_app", "DBUser=awaterra_admin"), SECRET_KEY)


def test_an_rds_token_is_reused_then_remade_before_it_lapses(aws_credentials: None) -> None:
    now = [1000.0]
    target = db_connect.RdsUser("db.internal", 5432, "awaterra_app", "eu-west-1")
    provider = db_connect.RdsAuthToken(target, clock=lambda: now[0])
    first = asyncio.run(provider())
    now[0] += db_connect.RDS_TOKEN_REUSE_SECONDS - 1
    assert asyncio.run(provider()) == first
    assert provider.refresh_count == 1
    now[0] += 2  # past the reuse window, well inside the token's 15 minutes
    asyncio.run(provider())
    assert provider.refresh_count == 2
    assert db_connect.RDS_TOKEN_REUSE_SECONDS < 900


def test_both_pools_sign_in_with_the_rds_token_over_verified_tls(
    tls_cluster: TlsCluster, aws_credentials: None
) -> None:
    tls_cluster.admin(f"DROP ROLE IF EXISTS {RDS_ROLE}")
    tls_cluster.admin(f"CREATE ROLE {RDS_ROLE} LOGIN")
    settings = rds_settings(tls_cluster)
    provider = settings.db_connect_args()["password"]
    assert isinstance(provider, db_connect.RdsAuthToken)
    token = asyncio.run(provider())
    checked = check_rds_token(token, SECRET_KEY)
    assert checked.host == f"127.0.0.1:{tls_cluster.cluster.port}"
    assert checked.user == RDS_ROLE
    # The server takes exactly that token: only a client that sends it gets in.
    tls_cluster.admin(f"ALTER ROLE {RDS_ROLE} PASSWORD '{token}'")
    assert asyncio.run(who_via_engine(settings)) == (RDS_ROLE, True)
    assert asyncio.run(who_via_map_store(settings)) == (RDS_ROLE, True)
    assert provider.refresh_count == 1, "one token serves every new connection while it is fresh"
    tls_cluster.admin(f"ALTER ROLE {RDS_ROLE} PASSWORD 'an-older-token'")
    with pytest.raises(asyncpg.InvalidPasswordError):
        asyncio.run(who_via_map_store(settings))


def test_the_rds_region_comes_from_the_environment_or_the_endpoint() -> None:
    base = {"DB_NAME": "app", "DB_USER": "awaterra_app", "DB_IAM_AUTH": "aws",
            "DB_SSLMODE": "require"}  # fmt: skip
    endpoint = "awaterra-prod-db.abcdefgh.eu-central-1.rds.amazonaws.com"
    assert load_settings({**base, "DB_HOST": endpoint}, cwd=Path("/tmp")).db_iam_region == (
        "eu-central-1"
    )
    told = load_settings({**base, "DB_HOST": endpoint, "AWS_REGION": "us-east-2"},
                         cwd=Path("/tmp"))  # fmt: skip
    assert told.db_iam_region == "us-east-2"
    gov = "db.abc.us-gov-west-1.rds.amazonaws.com"
    assert load_settings({**base, "DB_HOST": gov}, cwd=Path("/tmp")).db_iam_region == (
        "us-gov-west-1"
    )
    with pytest.raises(SettingsError, match="needs the database's region"):
        load_settings({**base, "DB_HOST": "10.0.3.7"}, cwd=Path("/tmp"))
