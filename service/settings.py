"""Twelve-factor settings: read once from the environment, validated, immutable.

Outside `local` the settings refuse what only makes sense on a laptop (the local signing key,
SQLite, a `file://` store) and name the variable that is missing, so a misconfigured task
fails at start instead of serving with development defaults.

Only `serve` reads the serving settings (AUTH_*, STORAGE_URL, the panel's ADMIN_*, rate limits,
write batching). The one-off jobs (`migrate`, `maintain`, `token`) load with `serving=False`:
they read the database, logging and retention settings and nothing else, so a job can run with
only what it uses (least privilege: it is never handed the panel's session key or the bucket).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit

from service.admin.config import AdminSettings, load_admin_settings

Environment = Literal["local", "dev", "prod"]
ENVIRONMENTS: tuple[Environment, ...] = ("local", "dev", "prod")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


class SettingsError(ValueError):
    """The environment does not describe a configuration this service can run with."""


@dataclass(frozen=True)
class Settings:
    """Everything the process reads from its environment."""

    environment: Environment
    database_url: str
    # None when the serving settings were not read (a job's settings, `serving=False`).
    storage_url: str | None
    data_dir: Path
    auth_jwks_url: str | None
    auth_issuer: str | None
    auth_audience: str | None
    log_level: str
    max_body_bytes: int = 1024 * 1024
    rate_limit_per_second: float = 50.0
    rate_limit_burst: int = 200
    db_pool_size: int = 20
    db_write_batch_size: int = 32
    db_write_concurrency: int = 4
    # How long a worker keeps its rendered GET /practices (service/practice_list_cache.py).
    practices_cache_seconds: float = 1.0
    db_connect_timeout_seconds: float = 3.0
    db_statement_timeout_seconds: float = 5.0
    db_iam_auth: str | None = None
    # DB_IAM_AUTH=aws: the region the RDS token is signed for.
    db_iam_region: str | None = None
    db_sslmode: str | None = None
    db_sslrootcert: str | None = None
    # How long events are kept (`python -m service maintain` removes older ones).
    event_retention_days: int = 395
    # The role the service signs in as, when it is not the schema's owner: `migrate` grants
    # it what the service needs and nothing more (service/grants.py).
    db_app_role: str | None = None
    # DB_APP_ROLE_IAM=aws: `migrate` creates that role if missing and grants it `rds_iam`.
    db_app_role_iam: str | None = None
    admin: AdminSettings = field(default_factory=AdminSettings)

    def db_connect_args(self) -> dict[str, Any]:
        """TLS and IAM-token password arguments for every new PostgreSQL connection."""
        from service.db_connect import RdsUser, connect_args

        rds_user = None
        if self.db_iam_auth == "aws":
            parts = urlsplit(self.database_url)
            rds_user = RdsUser(
                host=parts.hostname or "",
                port=parts.port or 5432,
                user=unquote(parts.username or ""),
                region=self.db_iam_region or "",
            )
        return connect_args(self.db_iam_auth, self.db_sslmode, self.db_sslrootcert, rds_user)

    @property
    def uses_local_key(self) -> bool:
        return self.auth_jwks_url is None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def redacted_database_url(self) -> str:
        """The database URL without its password, fit for a log line."""
        return redact_url(self.database_url)


def redact_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


def _parts_url(env: Mapping[str, str]) -> str | None:
    host = env.get("DB_HOST")
    if not host:
        return None
    missing = [name for name in ("DB_NAME", "DB_USER") if not env.get(name)]
    if missing:
        raise SettingsError(f"DB_HOST is set but {', '.join(missing)} is missing")
    port = env.get("DB_PORT") or "5432"
    if not port.isdigit():
        raise SettingsError(f"DB_PORT must be a number, got {port!r}")
    user = quote(env["DB_USER"], safe="")
    password = env.get("DB_PASSWORD")
    auth = f"{user}:{quote(password, safe='')}" if password else user
    return f"postgresql://{auth}@{host}:{port}/{quote(env['DB_NAME'], safe='')}"


# A PostgreSQL role name as this project's stacks create them (Cloud SQL IAM users carry '@').
APP_ROLE = re.compile(r"[A-Za-z0-9_.@-]{1,63}")


def _app_role(env: Mapping[str, str], database_url: str) -> str | None:
    role = (env.get("DB_APP_ROLE") or "").strip() or None
    if role is None:
        if (env.get("DB_APP_ROLE_IAM") or "").strip():
            raise SettingsError("DB_APP_ROLE_IAM is set but DB_APP_ROLE (the role) is not")
        return None
    if not database_url.startswith(("postgresql://", "postgres://")):
        raise SettingsError("DB_APP_ROLE needs PostgreSQL (SQLite has no roles)")
    if not APP_ROLE.fullmatch(role):
        raise SettingsError(
            "DB_APP_ROLE must be 1-63 letters, digits or _ . @ - (a database role), "
            f"got {role!r}"
        )
    return role


def _app_role_iam(env: Mapping[str, str]) -> str | None:
    iam = (env.get("DB_APP_ROLE_IAM") or "").strip().lower() or None
    if iam is not None and iam != "aws":
        raise SettingsError(f"DB_APP_ROLE_IAM must be aws (or unset), got {iam!r}")
    return iam


# <instance>.<account hash>.<region>.rds.amazonaws.com (and the China partition's domain).
_RDS_HOST = re.compile(r"[^.]+\.[^.]+\.([a-z]{2}(-[a-z]+)+-\d)\.rds\.amazonaws\.com(\.cn)?")


def _iam_region(env: Mapping[str, str], iam_auth: str | None, database_url: str) -> str | None:
    """The region an RDS token is signed for: AWS_REGION (ECS sets it), else the endpoint's."""
    if iam_auth != "aws":
        return None
    region = (env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "").strip()
    if region:
        return region
    endpoint = _RDS_HOST.fullmatch(urlsplit(database_url).hostname or "")
    if endpoint is None:
        raise SettingsError(
            "DB_IAM_AUTH=aws needs the database's region: set AWS_REGION, or connect to the "
            "RDS endpoint name (<instance>.<id>.<region>.rds.amazonaws.com)"
        )
    return endpoint.group(1)


_SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def _db_connection(
    env: Mapping[str, str], database_url: str
) -> tuple[str | None, str | None, str | None]:
    """DB_IAM_AUTH, DB_SSLMODE and DB_SSLROOTCERT, checked against each other."""
    iam_auth = (env.get("DB_IAM_AUTH") or "").strip().lower() or None
    sslmode = (env.get("DB_SSLMODE") or "").strip().lower() or None
    root_cert = env.get("DB_SSLROOTCERT") or None
    postgres = database_url.startswith(("postgresql://", "postgres://"))
    if iam_auth is not None:
        if iam_auth not in ("gcp", "aws"):
            raise SettingsError(f"DB_IAM_AUTH must be gcp or aws (or unset), got {iam_auth!r}")
        if not postgres:
            raise SettingsError(
                f"DB_IAM_AUTH={iam_auth} needs PostgreSQL (DATABASE_URL or DB_HOST)"
            )
        if env.get("DB_PASSWORD") or _url_has_password(database_url):
            raise SettingsError(
                f"DB_IAM_AUTH={iam_auth} signs in with tokens: remove DB_PASSWORD "
                "(and any password in DATABASE_URL)"
            )
    if sslmode is not None and sslmode not in _SSL_MODES:
        raise SettingsError(f"DB_SSLMODE must be one of {', '.join(_SSL_MODES)}, got {sslmode!r}")
    if (sslmode or root_cert) and not postgres:
        raise SettingsError("DB_SSLMODE and DB_SSLROOTCERT apply to PostgreSQL only")
    if root_cert is not None:
        if sslmode in (None, "disable", "allow", "prefer"):
            raise SettingsError(
                "DB_SSLROOTCERT is set: set DB_SSLMODE=verify-full (or verify-ca, require)"
            )
        if not Path(root_cert).is_file():
            raise SettingsError(f"DB_SSLROOTCERT names no readable file: {root_cert!r}")
    if iam_auth is not None and sslmode in (None, "disable", "allow", "prefer"):
        # A token is a bearer credential: it must never cross the network in the clear.
        raise SettingsError(
            f"DB_IAM_AUTH={iam_auth} needs TLS: set DB_SSLMODE=require or verify-full"
        )
    return iam_auth, sslmode, root_cert


def _url_has_password(url: str) -> bool:
    rest = url.partition("://")[2]
    credentials = rest.rpartition("@")[0] if "@" in rest else ""
    return ":" in credentials


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise SettingsError(f"{name} must not be negative, got {raw!r}")
    return value


# Served from the cache, a signed media URL (valid 15 minutes) loses up to this much of its life.
MAX_PRACTICES_CACHE_SECONDS = 60.0


def _cache_seconds(env: Mapping[str, str]) -> float:
    seconds = _number(env, "PRACTICES_CACHE_SECONDS", 1.0)
    if seconds > MAX_PRACTICES_CACHE_SECONDS:
        raw = env["PRACTICES_CACHE_SECONDS"]
        raise SettingsError(
            f"PRACTICES_CACHE_SECONDS must be at most {MAX_PRACTICES_CACHE_SECONDS:g} (a "
            f"practice edit shows on every worker within it), got {raw!r}"
        )
    return seconds


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    """A whole number of at least 1 (a pool, a batch, a number of slots)."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise SettingsError(f"{name} must be at least 1, got {raw!r}")
    return value


def load_settings(
    env: Mapping[str, str] | None = None, *, cwd: Path | None = None, serving: bool = True
) -> Settings:
    """Read and validate the settings; raise SettingsError naming the offending variable.

    `serving=False` (the jobs): the serving settings are neither read nor required; they keep
    their unconfigured values (no storage URL, no issuer, no panel)."""
    env = os.environ if env is None else env
    environment = (env.get("ENVIRONMENT") or "local").strip().lower()
    if environment not in ENVIRONMENTS:
        raise SettingsError(
            f"ENVIRONMENT must be one of {', '.join(ENVIRONMENTS)}, got {environment!r}"
        )
    data_dir = Path(env.get("DATA_DIR") or (cwd or Path.cwd()) / ".data")

    database_url = (
        env.get("DATABASE_URL") or _parts_url(env) or f"sqlite:///{data_dir / 'service.db'}"
    )
    if not database_url.startswith(("postgresql://", "postgres://", "sqlite:///")):
        raise SettingsError("DATABASE_URL must start with postgresql:// or sqlite:///")
    # Every missing production setting at once: a deploy should not fail three times in a row.
    problems: list[str] = []
    if environment == "prod" and database_url.startswith("sqlite"):
        problems.append(
            "ENVIRONMENT=prod needs PostgreSQL: set DATABASE_URL or DB_HOST/DB_NAME/DB_USER"
        )
    serve = _serving(env, environment, data_dir, problems) if serving else _NOT_SERVING
    if problems:
        raise SettingsError("; ".join(problems))

    db_iam_auth, db_sslmode, db_sslrootcert = _db_connection(env, database_url)

    log_level = (env.get("LOG_LEVEL") or "info").strip().lower()
    if log_level not in LOG_LEVELS:
        raise SettingsError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}")

    return Settings(
        environment=environment,
        database_url=database_url,
        data_dir=data_dir,
        log_level=log_level,
        db_pool_size=_count(env, "DB_POOL_SIZE", 20),
        db_iam_auth=db_iam_auth,
        db_iam_region=_iam_region(env, db_iam_auth, database_url),
        db_sslmode=db_sslmode,
        db_sslrootcert=db_sslrootcert,
        event_retention_days=_count(env, "EVENT_RETENTION_DAYS", 395),
        db_app_role=_app_role(env, database_url),
        db_app_role_iam=_app_role_iam(env),
        **serve,
    )


# What a job's settings hold for the serving ones: nothing configured.
_NOT_SERVING: dict[str, Any] = {
    "storage_url": None,
    "auth_jwks_url": None,
    "auth_issuer": None,
    "auth_audience": None,
}


def _serving(
    env: Mapping[str, str], environment: str, data_dir: Path, problems: list[str]
) -> dict[str, Any]:
    """The settings only `serve` reads, as Settings fields; problems go to `problems`."""
    storage_url = env.get("STORAGE_URL") or f"file://{(data_dir / 'storage').resolve()}"
    if not storage_url.startswith(("s3://", "gs://", "file://")):
        raise SettingsError("STORAGE_URL must start with s3://, gs:// or file://")
    auth = {
        name: env.get(name) or None for name in ("AUTH_JWKS_URL", "AUTH_ISSUER", "AUTH_AUDIENCE")
    }
    if any(auth.values()) or environment != "local":
        missing = [name for name, value in auth.items() if not value]
        if missing:
            # Named first: an unconfigured prod task lists them before DATABASE_URL, as it
            # always has.
            problems.insert(
                0,
                f"{', '.join(missing)} must be set when ENVIRONMENT={environment} "
                "(or when any AUTH_* variable is set)",
            )
    if environment == "prod" and storage_url.startswith("file://"):
        problems.append(
            "ENVIRONMENT=prod needs a bucket: set STORAGE_URL=s3://bucket or gs://bucket"
        )
    return {
        "storage_url": storage_url,
        "auth_jwks_url": auth["AUTH_JWKS_URL"],
        "auth_issuer": auth["AUTH_ISSUER"],
        "auth_audience": auth["AUTH_AUDIENCE"],
        "rate_limit_per_second": _number(env, "RATE_LIMIT_PER_SECOND", 50.0),
        "rate_limit_burst": int(_number(env, "RATE_LIMIT_BURST", 200)),
        "db_write_batch_size": _count(env, "DB_WRITE_BATCH_SIZE", 32),
        "db_write_concurrency": _count(env, "DB_WRITE_CONCURRENCY", 4),
        "practices_cache_seconds": _cache_seconds(env),
        "admin": load_admin_settings(env, environment, auth["AUTH_ISSUER"], problems),
    }
