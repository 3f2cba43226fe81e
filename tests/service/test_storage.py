"""Media storage: S3 presigned URLs against moto on loopback, the file store through its routes."""

from __future__ import annotations

import asyncio
import inspect
import os
import socket
import stat
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from starlette.applications import Starlette

from service.storage import (
    FileStorage,
    InvalidStorageKey,
    S3Storage,
    StorageUnavailable,
    build_storage,
    validate_key,
)

BUCKET = "awaterra-media-test"


# --- keys and URLs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["practices/p1/audio.mp3", "a", "A-b_c.d/e", "x" * 512],
)
def test_valid_keys(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "x" * 513,
        "/etc/passwd",
        "../secret",
        "a/../b",
        "a/./b",
        "a//b",
        "a/",
        ".hidden",
        "a/.hidden",
        "a\\b",
        "a b",
        "a\x00b",
        "é",
        "a/..",
        "a..b",
    ],
)
def test_invalid_keys(key: str) -> None:
    with pytest.raises(InvalidStorageKey):
        validate_key(key)


def test_build_storage_defaults_to_files_under_the_data_dir(tmp_path: Path) -> None:
    storage = build_storage(None, tmp_path)
    assert isinstance(storage, FileStorage)
    assert storage.root == (tmp_path / "storage").resolve()
    assert storage.routes


def test_build_storage_parses_file_and_s3_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    files = build_storage(f"file://{tmp_path}/media", tmp_path)
    assert isinstance(files, FileStorage) and files.root == (tmp_path / "media").resolve()
    s3 = build_storage("s3://my-bucket/media/v1/", tmp_path)
    assert isinstance(s3, S3Storage)
    assert (s3.bucket, s3.prefix, s3.routes) == ("my-bucket", "media/v1/", [])
    bare = build_storage("s3://my-bucket", tmp_path)
    assert isinstance(bare, S3Storage) and bare.prefix == ""


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://example.com/x", "STORAGE_URL must be"),
        ("s3://", "not a valid bucket"),
        ("s3://Upper_Case", "not a valid bucket"),
        ("s3://bucket/../escape", "bad prefix"),
        ("s3://bucket?versioning=1", "query strings"),
        ("file://otherhost/dir", "local directory"),
        ("file:relative/dir", "absolute"),
    ],
)
def test_build_storage_rejects_bad_urls(tmp_path: Path, url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        build_storage(url, tmp_path)


# --- the file store ---------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def files(tmp_path: Path, clock: FakeClock) -> FileStorage:
    return FileStorage(
        tmp_path / "media", tmp_path / "data", max_upload_bytes=64 * 1024, clock=clock
    )


class AsgiClient:
    """Synchronous calls into an ASGI app through httpx's ASGITransport."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                return await c.request(method, url, **kwargs)

        return asyncio.run(send())

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)


@pytest.fixture
def client(files: FileStorage) -> AsgiClient:
    return AsgiClient(Starlette(routes=files.routes))


def presign_upload(storage: Any, key: str, content_type: str, **kwargs: Any) -> str:
    url: str = asyncio.run(storage.presign_upload(key, content_type, **kwargs))
    return url


def presign_download(storage: Any, key: str, **kwargs: Any) -> str:
    url: str = asyncio.run(storage.presign_download(key, **kwargs))
    return url


def test_file_round_trip_through_signed_urls(files: FileStorage, client: AsgiClient) -> None:
    body = os.urandom(40_000)
    upload_url = presign_upload(files, "practices/p1/intro.mp3", "audio/mpeg")
    assert upload_url.startswith("/_media/practices/p1/intro.mp3?expires=")
    put = client.put(upload_url, content=body, headers={"Content-Type": "audio/mpeg"})
    assert put.status_code == 200, put.text
    assert put.json()["data"] == {"mediaKey": "practices/p1/intro.mp3", "size": len(body)}

    got = client.get(presign_download(files, "practices/p1/intro.mp3"))
    assert got.status_code == 200
    assert got.content == body
    assert got.headers["content-type"] == "audio/mpeg"
    assert got.headers["content-security-policy"] == "sandbox"
    assert (files.root / "practices/p1/intro.mp3").read_bytes() == body


def test_file_upload_streams_chunked_bodies_and_replaces_atomically(
    files: FileStorage, client: AsgiClient
) -> None:
    url = presign_upload(files, "a/b.bin", "application/octet-stream")
    headers = {"Content-Type": "application/octet-stream"}
    assert client.put(url, content=b"old", headers=headers).status_code == 200

    parts = [bytes([n]) * 1000 for n in range(10)]

    async def chunks() -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    assert client.put(url, content=chunks(), headers=headers).status_code == 200
    assert (files.root / "a/b.bin").read_bytes() == b"".join(parts)
    assert sorted(p.name for p in (files.root / "a").iterdir()) == ["b.bin"]


@pytest.mark.parametrize("declare_length", [True, False])
def test_file_upload_over_the_limit_is_refused_and_leaves_nothing(
    files: FileStorage, client: AsgiClient, declare_length: bool
) -> None:
    url = presign_upload(files, "big/file.bin", "application/octet-stream")
    too_big = b"x" * (files.max_upload_bytes + 1)

    async def chunks() -> AsyncIterator[bytes]:
        yield too_big[:50_000]
        yield too_big[50_000:]

    content: Any = too_big if declare_length else chunks()
    headers = {"Content-Type": "application/octet-stream"}
    response = client.put(url, content=content, headers=headers)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    leftovers = list((files.root / "big").iterdir()) if (files.root / "big").exists() else []
    assert leftovers == []


def test_file_upload_needs_the_signed_content_type(files: FileStorage, client: AsgiClient) -> None:
    url = presign_upload(files, "a/img.png", "image/png")
    response = client.put(url, content=b"<html>", headers={"Content-Type": "text/html"})
    assert response.status_code == 403
    assert response.json() == {
        "success": False,
        "error": {
            "code": "forbidden",
            "message": "this upload URL is signed for Content-Type: image/png; send exactly "
            "that header (the request had Content-Type: text/html)",
        },
    }
    missing = client.put(url, content=b"png")
    assert "the request had no Content-Type" in missing.json()["error"]["message"]
    # The type named in the URL is only an explanation: the signature still decides.
    bent = url.replace("contentType=image%2Fpng", "contentType=text%2Fhtml")
    assert bent != url
    response = client.put(bent, content=b"<html>", headers={"Content-Type": "text/html"})
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "URL signature does not match"
    assert not (files.root / "a/img.png").exists()


def test_download_url_cannot_upload_and_upload_url_cannot_download(
    files: FileStorage, client: AsgiClient
) -> None:
    (files.root / "doc.txt").write_bytes(b"secret")
    download = presign_download(files, "doc.txt")
    assert client.put(download, content=b"overwrite").status_code == 403
    assert (files.root / "doc.txt").read_bytes() == b"secret"
    upload = presign_upload(files, "doc.txt", "text/plain")
    assert client.get(upload).status_code == 403


def test_signature_binds_the_key(files: FileStorage, client: AsgiClient) -> None:
    (files.root / "mine.txt").write_bytes(b"mine")
    (files.root / "theirs.txt").write_bytes(b"theirs")
    url = presign_download(files, "mine.txt")
    assert client.get(url).status_code == 200
    assert client.get(url.replace("mine.txt", "theirs.txt")).status_code == 403


@pytest.mark.parametrize(
    "mangle",
    [
        lambda url: url.split("?")[0],
        lambda url: url.replace("sig=", "sig=0"),
        lambda url: url[:-4] + "0000",
        lambda url: url.replace("expires=", "expires=9"),
        lambda url: url.replace("expires=", "expires=-"),
    ],
)
def test_forged_signatures_are_refused(files: FileStorage, client: AsgiClient, mangle: Any) -> None:
    (files.root / "f.txt").write_bytes(b"x")
    response = client.get(mangle(presign_download(files, "f.txt")))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_expired_url_is_refused(files: FileStorage, client: AsgiClient, clock: FakeClock) -> None:
    (files.root / "f.txt").write_bytes(b"x")
    url = presign_download(files, "f.txt", expires_seconds=60)
    clock.now += 59
    assert client.get(url).status_code == 200
    clock.now += 2
    response = client.get(url)
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "URL expired"


def test_path_traversal_is_refused(files: FileStorage, client: AsgiClient, tmp_path: Path) -> None:
    (tmp_path / "outside.txt").write_bytes(b"do not serve")
    for path in (
        "/_media/a/%2e%2e/%2e%2e/outside.txt",
        "/_media/%2e%2e/outside.txt",
        "/_media/..%2Foutside.txt",
        "/_media//etc/passwd",
    ):
        response = client.get(path + "?expires=9999999999&sig=00")
        assert response.status_code == 404, path
        assert b"do not serve" not in response.content


def test_symlink_out_of_the_root_is_refused(
    files: FileStorage, client: AsgiClient, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"do not serve")
    (files.root / "link").symlink_to(outside)
    with pytest.raises(InvalidStorageKey):
        files.path_for("link/secret.txt")
    response = client.get(presign_download(files, "link/secret.txt"))
    assert response.status_code == 404
    upload = presign_upload(files, "link/new.txt", "text/plain")
    put = client.put(upload, content=b"x", headers={"Content-Type": "text/plain"})
    assert put.status_code == 404
    assert not (outside / "new.txt").exists()


def test_missing_object_is_not_found(files: FileStorage, client: AsgiClient) -> None:
    response = client.get(presign_download(files, "nothing/here.mp3"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_presign_validates_its_inputs(files: FileStorage) -> None:
    with pytest.raises(InvalidStorageKey):
        presign_download(files, "../x")
    with pytest.raises(ValueError, match="content type"):
        presign_upload(files, "a.txt", "text/plain; charset=utf-8\r\nX-Evil: 1")
    with pytest.raises(ValueError, match="expires_seconds"):
        presign_download(files, "a.txt", expires_seconds=0)
    with pytest.raises(ValueError, match="expires_seconds"):
        presign_upload(files, "a.txt", "text/plain", expires_seconds=8 * 24 * 3600)


def test_signing_secret_is_private_and_shared_by_processes(tmp_path: Path) -> None:
    first = FileStorage(tmp_path / "media", tmp_path / "data")
    second = FileStorage(tmp_path / "media", tmp_path / "data", "https://api.example.com/")
    secret_file = tmp_path / "data" / "media-signing-key"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert len(secret_file.read_bytes()) == 32
    (first.root / "f.txt").write_bytes(b"shared")
    url = presign_download(second, "f.txt")
    assert url.startswith("https://api.example.com/_media/f.txt?")
    client = AsgiClient(Starlette(routes=first.routes))
    assert client.get(url.removeprefix("https://api.example.com")).content == b"shared"


def test_file_check_reports_a_missing_directory(files: FileStorage) -> None:
    asyncio.run(files.check())
    files.root.rmdir()
    with pytest.raises(StorageUnavailable, match="missing or not writable"):
        asyncio.run(files.check())


# --- S3 through moto on loopback --------------------------------------------------------------


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    admin = boto3.client("s3")
    try:
        admin.create_bucket(Bucket=BUCKET)
    except admin.exceptions.BucketAlreadyOwnedByYou:
        pass
    return moto_endpoint


def test_s3_presigned_round_trip(aws_env: str, tmp_path: Path) -> None:
    storage = build_storage(f"s3://{BUCKET}/media", tmp_path)
    assert isinstance(storage, S3Storage)
    body = os.urandom(5000)
    upload_url = presign_upload(
        storage, "practices/p1/intro.mp3", "audio/mpeg", expires_seconds=600
    )
    assert upload_url.startswith(aws_env), "AWS_ENDPOINT_URL is honoured"
    query = parse_qs(urlsplit(upload_url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["600"]
    assert "content-type" in query["X-Amz-SignedHeaders"][0].split(";")

    put = httpx.put(upload_url, content=body, headers={"Content-Type": "audio/mpeg"})
    assert put.status_code == 200, put.text
    got = httpx.get(presign_download(storage, "practices/p1/intro.mp3"))
    assert got.status_code == 200
    assert got.content == body

    stored = boto3.client("s3").get_object(Bucket=BUCKET, Key="media/practices/p1/intro.mp3")
    assert stored["ContentType"] == "audio/mpeg"
    asyncio.run(storage.check())
    asyncio.run(storage.aclose())


def test_s3_check_fails_for_a_missing_bucket(aws_env: str, tmp_path: Path) -> None:
    storage = build_storage("s3://no-such-bucket-here", tmp_path)
    with pytest.raises(StorageUnavailable, match="S3 refused"):
        asyncio.run(storage.check())


def test_s3_check_fails_when_the_endpoint_is_down(
    aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port}")
    storage = S3Storage(BUCKET, check_timeout=1.0)
    with pytest.raises(StorageUnavailable):
        asyncio.run(storage.check())


def test_s3_check_is_bounded_when_the_endpoint_hangs(
    aws_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts connections (in the backlog) and never answers
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
        storage = S3Storage(BUCKET, check_timeout=0.5)
        started = time.perf_counter()
        with pytest.raises(StorageUnavailable, match="did not answer"):
            asyncio.run(storage.check())
        assert time.perf_counter() - started < 1.5


def test_s3_calls_run_off_the_event_loop() -> None:
    calls: list[tuple[str, int]] = []

    class RecordingClient:
        def generate_presigned_url(self, operation: str, **kwargs: Any) -> str:
            calls.append((operation, threading.get_ident()))
            return f"https://signed.example.com/{kwargs['Params']['Key']}"

        def head_bucket(self, **kwargs: Any) -> None:
            calls.append(("head_bucket", threading.get_ident()))

        def close(self) -> None:
            calls.append(("close", threading.get_ident()))

    storage = S3Storage("bucket", "pre", client=RecordingClient())

    async def scenario() -> tuple[int, str]:
        url = await storage.presign_download("k.mp3")
        await storage.presign_upload("k.mp3", "audio/mpeg")
        await storage.check()
        await storage.aclose()
        return threading.get_ident(), url

    loop_thread, url = asyncio.run(scenario())
    assert url == "https://signed.example.com/pre/k.mp3"
    assert [name for name, _ in calls] == ["get_object", "put_object", "head_bucket", "close"]
    assert all(thread != loop_thread for _, thread in calls)


def test_default_lifetimes_are_the_documented_ones(files: FileStorage, clock: FakeClock) -> None:
    """docs/storage.md: a caller naming no lifetime gets 5 minutes down, 15 minutes up."""
    expires = int(parse_qs(urlsplit(presign_download(files, "a.txt")).query)["expires"][0])
    assert expires == int(clock.now) + 300
    upload = presign_upload(files, "a.txt", "text/plain")
    assert int(parse_qs(urlsplit(upload).query)["expires"][0]) == int(clock.now) + 900
    for method, seconds in ((S3Storage.presign_download, 300), (S3Storage.presign_upload, 900)):
        default = inspect.signature(method).parameters["expires_seconds"].default
        assert default == seconds, method
