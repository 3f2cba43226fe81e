"""Settings: embedded defaults locally; prod refuses the laptop defaults and says why."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.settings import SettingsError, load_settings, redact_url

AUTH = {
    "AUTH_JWKS_URL": "https://issuer.test/jwks.json",
    "AUTH_ISSUER": "https://issuer.test/",
    "AUTH_AUDIENCE": "app",
}


def test_no_variables_means_embedded_defaults(tmp_path: Path) -> None:
    settings = load_settings({}, cwd=tmp_path)
    assert settings.environment == "local"
    assert settings.database_url == f"sqlite:///{tmp_path / '.data' / 'service.db'}"
    assert settings.storage_url == f"file://{(tmp_path / '.data' / 'storage').resolve()}"
    assert settings.uses_local_key and settings.log_level == "info"


def test_database_parts_build_a_url(tmp_path: Path) -> None:
    env = {
        "DB_HOST": "db.internal",
        "DB_PORT": "6432",
        "DB_NAME": "app",
        "DB_USER": "svc",
        "DB_PASSWORD": "p@ss:w/rd",
    }
    settings = load_settings(env, cwd=tmp_path)
    assert settings.database_url == "postgresql://svc:p%40ss%3Aw%2Frd@db.internal:6432/app"
    assert "p%40ss" not in settings.redacted_database_url()
    assert load_settings({**env, "DATABASE_URL": "sqlite:///x.db"}).database_url == "sqlite:///x.db"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"ENVIRONMENT": "prod", **AUTH, "STORAGE_URL": "s3://bucket"}, ["DATABASE_URL"]),
        ({"ENVIRONMENT": "prod", **AUTH, "DATABASE_URL": "postgresql://u@h/d"}, ["STORAGE_URL"]),
        (
            {"ENVIRONMENT": "prod", "DATABASE_URL": "postgresql://u@h/d", "STORAGE_URL": "s3://b"},
            ["AUTH_JWKS_URL", "AUTH_ISSUER", "AUTH_AUDIENCE"],
        ),
        (
            {"ENVIRONMENT": "prod"},
            ["AUTH_JWKS_URL", "AUTH_ISSUER", "AUTH_AUDIENCE", "DATABASE_URL", "STORAGE_URL"],
        ),
        ({"ENVIRONMENT": "dev", "AUTH_ISSUER": "x", "AUTH_AUDIENCE": "y"}, ["AUTH_JWKS_URL"]),
        ({"AUTH_JWKS_URL": "https://x/jwks"}, ["AUTH_ISSUER", "AUTH_AUDIENCE"]),
        ({"ENVIRONMENT": "staging"}, ["ENVIRONMENT"]),
        ({"DB_HOST": "h"}, ["DB_NAME", "DB_USER"]),
        ({"DB_HOST": "h", "DB_NAME": "n", "DB_USER": "u", "DB_PORT": "x"}, ["DB_PORT"]),
        ({"DATABASE_URL": "mysql://x"}, ["DATABASE_URL"]),
        ({"STORAGE_URL": "azure://x"}, ["STORAGE_URL"]),  # gs:// is served since issue 11
        ({"LOG_LEVEL": "chatty"}, ["LOG_LEVEL"]),
        ({"RATE_LIMIT_PER_SECOND": "fast"}, ["RATE_LIMIT_PER_SECOND"]),
        ({"DB_POOL_SIZE": "0"}, ["DB_POOL_SIZE"]),
        ({"DB_WRITE_BATCH_SIZE": "2.5"}, ["DB_WRITE_BATCH_SIZE"]),
        ({"DB_WRITE_CONCURRENCY": "-1"}, ["DB_WRITE_CONCURRENCY"]),
        ({"PRACTICES_CACHE_SECONDS": "soon"}, ["PRACTICES_CACHE_SECONDS"]),
        ({"PRACTICES_CACHE_SECONDS": "-1"}, ["PRACTICES_CACHE_SECONDS"]),
        ({"PRACTICES_CACHE_SECONDS": "61"}, ["PRACTICES_CACHE_SECONDS"]),
    ],
)
def test_refusals_name_the_setting(tmp_path: Path, env: dict[str, str], names: list[str]) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env, cwd=tmp_path)
    for name in names:
        assert name in str(caught.value)


def test_prod_with_everything_set(tmp_path: Path) -> None:
    env = {
        "ENVIRONMENT": "prod",
        **AUTH,
        "DB_HOST": "h",
        "DB_NAME": "n",
        "DB_USER": "u",
        "DB_PASSWORD": "secret",
        "STORAGE_URL": "s3://bucket/media",
        "LOG_LEVEL": "WARNING",
    }
    settings = load_settings(env, cwd=tmp_path)
    assert settings.environment == "prod" and not settings.uses_local_key
    assert settings.log_level == "warning"


def test_redaction() -> None:
    assert redact_url("postgresql://u:secret@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert redact_url("sqlite:///x.db") == "sqlite:///x.db"


def test_write_coalescing_settings(tmp_path: Path) -> None:
    defaults = load_settings({}, cwd=tmp_path)
    assert (defaults.db_write_batch_size, defaults.db_write_concurrency) == (32, 4)
    tuned = load_settings({"DB_WRITE_BATCH_SIZE": "1", "DB_WRITE_CONCURRENCY": "8"}, cwd=tmp_path)
    assert (tuned.db_write_batch_size, tuned.db_write_concurrency) == (1, 8)


def test_practices_cache_seconds(tmp_path: Path) -> None:
    assert load_settings({}, cwd=tmp_path).practices_cache_seconds == 1.0
    off = load_settings({"PRACTICES_CACHE_SECONDS": "0"}, cwd=tmp_path)
    assert off.practices_cache_seconds == 0
    tuned = load_settings({"PRACTICES_CACHE_SECONDS": "2.5"}, cwd=tmp_path)
    assert tuned.practices_cache_seconds == 2.5


def test_prod_accepts_a_cloud_storage_bucket(tmp_path: Path) -> None:
    env = {"ENVIRONMENT": "prod", **AUTH, "DATABASE_URL": "postgresql://u@h/d"}
    settings = load_settings({**env, "STORAGE_URL": "gs://awaterra-media/v1"}, cwd=tmp_path)
    assert settings.storage_url == "gs://awaterra-media/v1"
