"""Cloud Storage: signed URLs against gcp-storage-emulator on loopback, signatures verified
independently, and the keyless path through IAM `signBlob` (a loopback stand-in)."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import rsa

from service.storage import StorageUnavailable, build_storage
from tests.support.google import (
    MetadataServer,
    StorageEmulator,
    new_rsa_key,
    use_metadata_host,
    verify_v4_signed_url,
    write_service_account_key,
)

BUCKET = "awaterra-media-gcs-test"
EMAIL = "awaterra-service@awaterra-test.iam.gserviceaccount.com"


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[StorageEmulator]:
    running = StorageEmulator(BUCKET)
    running.server.start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", running.url)
    try:
        yield running
    finally:
        running.server.stop()


@pytest.fixture(scope="module")
def sa_key() -> rsa.RSAPrivateKey:
    return new_rsa_key()


@pytest.fixture
def key_file(sa_key: rsa.RSAPrivateKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = write_service_account_key(tmp_path / "sa.json", sa_key, EMAIL)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    use_metadata_host(monkeypatch, "127.0.0.1:9")  # never the real metadata server
    return path


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_build_storage_parses_gs_urls(
    key_file: Path, emulator: StorageEmulator, tmp_path: Path
) -> None:
    from service.storage_gcs import GCSStorage

    storage = build_storage("gs://my_bucket-1/media/v1/", tmp_path)
    assert isinstance(storage, GCSStorage)
    assert (storage.bucket, storage.prefix, storage.routes) == ("my_bucket-1", "media/v1/", [])


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("gs://", "not a valid bucket"),
        ("gs://Upper", "not a valid bucket"),
        ("gs://googbucket", "not a valid bucket"),
        ("gs://bucket/../escape", "bad prefix"),
        ("gs://bucket?x=1", "query strings"),
    ],
)
def test_build_storage_rejects_bad_gs_urls(tmp_path: Path, url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        build_storage(url, tmp_path)


def test_google_cloud_storage_is_imported_only_for_gs_urls() -> None:
    code = (
        "import sys; from pathlib import Path; from service.app import create_app; "
        "from service.storage import build_storage; build_storage(None, Path('/tmp/x')); "
        "print('google.cloud.storage' in sys.modules, 'google.auth' in sys.modules)"
    )
    import subprocess

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split() == ["False", "False"]


def test_signed_round_trip_through_the_emulator(
    key_file: Path, emulator: StorageEmulator, sa_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    storage = build_storage(f"gs://{BUCKET}/media", tmp_path)
    body = os.urandom(5000)
    upload = run(
        storage.presign_upload("practices/p1/intro.mp3", "audio/mpeg", expires_seconds=600)
    )
    assert upload.startswith(f"{emulator.url}/{BUCKET}/media/practices/p1/intro.mp3?")

    # The signature is Google's V4, over the method, path, host and Content-Type.
    signed = verify_v4_signed_url(
        upload, "PUT", sa_key.public_key(), {"Content-Type": "audio/mpeg"}
    )
    assert (signed.email, signed.expires) == (EMAIL, 600)
    assert signed.signed_headers == ["content-type", "host"]
    with pytest.raises(InvalidSignature):
        verify_v4_signed_url(upload, "PUT", sa_key.public_key(), {"Content-Type": "text/html"})
    with pytest.raises(InvalidSignature):
        verify_v4_signed_url(upload, "GET", sa_key.public_key(), {"Content-Type": "audio/mpeg"})

    put = httpx.put(upload, content=body, headers={"Content-Type": "audio/mpeg"})
    assert put.status_code == 200, put.text
    assert emulator.content_type("media/practices/p1/intro.mp3") == "audio/mpeg"
    assert run(storage.exists("practices/p1/intro.mp3")) is True
    assert run(storage.exists("practices/p1/other.mp3")) is False

    download = run(storage.presign_download("practices/p1/intro.mp3"))
    got = verify_v4_signed_url(download, "GET", sa_key.public_key())
    assert (got.expires, got.signed_headers) == (300, ["host"])
    response = httpx.get(download)
    assert response.status_code == 200 and response.content == body
    with pytest.raises(InvalidSignature):
        verify_v4_signed_url(download.replace("intro.mp3", "other.mp3"), "GET", sa_key.public_key())
    run(storage.check())
    run(storage.aclose())


def test_presign_validates_its_inputs(
    key_file: Path, emulator: StorageEmulator, tmp_path: Path
) -> None:
    storage = build_storage(f"gs://{BUCKET}", tmp_path)
    with pytest.raises(ValueError, match="storage key"):
        run(storage.presign_download("../x"))
    with pytest.raises(ValueError, match="content type"):
        run(storage.presign_upload("a.txt", "text/plain\r\nX-Evil: 1"))
    with pytest.raises(ValueError, match="expires_seconds"):
        run(storage.presign_upload("a.txt", "text/plain", expires_seconds=8 * 24 * 3600))


def test_check_fails_for_a_missing_bucket(
    key_file: Path, emulator: StorageEmulator, tmp_path: Path
) -> None:
    storage = build_storage("gs://no-such-bucket-here", tmp_path)
    with pytest.raises(StorageUnavailable, match=r"refused the request \(404\)"):
        run(storage.check())


def test_check_fails_when_the_emulator_is_down(
    key_file: Path, emulator: StorageEmulator, tmp_path: Path
) -> None:
    storage = build_storage(f"gs://{BUCKET}", tmp_path)
    run(storage.check())
    emulator.server.stop()
    with pytest.raises(StorageUnavailable, match="not reachable"):
        run(storage.check())
    with pytest.raises(StorageUnavailable):
        run(storage.exists("anything"))


def test_check_is_bounded_when_the_endpoint_hangs(
    key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.storage_gcs import GCSStorage

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts connections (in the backlog) and never answers
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{silent.getsockname()[1]}")
        storage = GCSStorage(BUCKET, check_timeout=0.5)
        started = time.perf_counter()
        with pytest.raises(StorageUnavailable):
            run(storage.check())
        assert time.perf_counter() - started < 1.5


# --- keyless: metadata-server credentials and IAM signBlob ----------------------------------


@pytest.fixture
def metadata(
    sa_key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[MetadataServer]:
    with MetadataServer(sa_key, EMAIL) as server:
        monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
        monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))
        use_metadata_host(monkeypatch, server.host)
        yield server


def test_keyless_signing_goes_through_iam_sign_blob(
    metadata: MetadataServer, emulator: StorageEmulator, sa_key: rsa.RSAPrivateKey
) -> None:
    from service.storage_gcs import GCSStorage

    # The production path: Application Default Credentials find the metadata server.
    storage = GCSStorage(BUCKET, "media", iam_endpoint=metadata.iam_url)

    async def scenario() -> tuple[str, str]:
        upload = await storage.presign_upload("k/a.mp4", "video/mp4")
        download = await storage.presign_download("k/a.mp4")
        return upload, download

    upload, download = run(scenario())
    signed = verify_v4_signed_url(upload, "PUT", sa_key.public_key(), {"Content-Type": "video/mp4"})
    assert signed.email == EMAIL
    verify_v4_signed_url(download, "GET", sa_key.public_key())
    assert metadata.calls.sign_blob == [(EMAIL, "Bearer token-1")] * 2
    assert metadata.calls.tokens == 1, "the access token is reused while valid"

    put = httpx.put(upload, content=b"mp4", headers={"Content-Type": "video/mp4"})
    assert put.status_code == 200
    assert httpx.get(download).content == b"mp4"


def test_keyless_signing_refetches_an_expired_token(
    metadata: MetadataServer, emulator: StorageEmulator, sa_key: rsa.RSAPrivateKey
) -> None:
    from service.storage_gcs import GCSStorage

    metadata.token_ttl = 1  # google-auth treats tokens this close to expiry as expired
    storage = GCSStorage(BUCKET, iam_endpoint=metadata.iam_url)
    first = run(storage.presign_download("a"))
    second = run(storage.presign_download("b"))
    verify_v4_signed_url(first, "GET", sa_key.public_key())
    verify_v4_signed_url(second, "GET", sa_key.public_key())
    tokens = [auth for _, auth in metadata.calls.sign_blob]
    assert len(set(tokens)) == 2 and metadata.calls.tokens >= 2


def test_keyless_signing_failure_is_unavailable(
    metadata: MetadataServer, emulator: StorageEmulator
) -> None:
    from service.storage_gcs import GCSStorage

    metadata.sign_status = 403  # the account lacks roles/iam.serviceAccountTokenCreator
    storage = GCSStorage(BUCKET, iam_endpoint=metadata.iam_url)
    with pytest.raises(StorageUnavailable, match="not reachable"):
        run(storage.presign_download("a"))
