"""Practice media through Cloud Storage (gcp-storage-emulator on loopback): the admin upload
flow end to end with STORAGE_URL=gs://..., URLs signed with a throwaway service-account key."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from service.settings import Settings
from tests.service.conftest import Issuer, build_app, create_practice, running
from tests.support.google import (
    StorageEmulator,
    new_rsa_key,
    use_metadata_host,
    verify_v4_signed_url,
    write_service_account_key,
)

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

BUCKET = "awaterra-media-app-gcs"
EMAIL = "awaterra-service@awaterra-test.iam.gserviceaccount.com"
KEY = new_rsa_key()


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[StorageEmulator]:
    running_emulator = StorageEmulator(BUCKET)
    running_emulator.server.start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", running_emulator.url)
    try:
        yield running_emulator
    finally:
        running_emulator.server.stop()


@pytest.fixture
def gcs_settings(
    settings: Settings,
    emulator: StorageEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    key_file = write_service_account_key(tmp_path / "sa.json", KEY, EMAIL)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    use_metadata_host(monkeypatch, "127.0.0.1:9")
    return replace(settings, storage_url=f"gs://{BUCKET}/media")


async def test_media_round_trip_through_cloud_storage(
    gcs_settings: Settings, issuer: Issuer, emulator: StorageEmulator
) -> None:
    app = build_app(gcs_settings, issuer)
    async with running(app) as client:
        heartbeat = (await client.get("/heartbeat")).json()
        assert heartbeat["checks"]["storage"]["status"] == "ok"

        admin = issuer.headers("ops", admin=True)
        practice = await create_practice(client, issuer)
        response = await client.post(
            f"/practices/{practice}/media", json={"contentType": "video/mp4"}, headers=admin
        )
        assert response.status_code == 200, response.text
        upload = response.json()["data"]
        assert upload["uploadHeaders"] == {"Content-Type": "video/mp4"}
        assert upload["uploadUrl"].startswith(f"{emulator.url}/{BUCKET}/media/")
        verify_v4_signed_url(upload["uploadUrl"], "PUT", KEY.public_key(), upload["uploadHeaders"])
        async with httpx.AsyncClient() as gcs:
            put = await gcs.put(
                upload["uploadUrl"], content=b"mp4-bytes", headers=upload["uploadHeaders"]
            )
        assert put.status_code == 200, put.text
        assert emulator.content_type(f"media/{upload['mediaKey']}") == "video/mp4"

        await create_practice(client, issuer, practice, mediaKey=upload["mediaKey"])
        listing = await client.get("/practices", headers=issuer.headers("someone"))
        item = next(p for p in listing.json()["data"]["practices"] if p["id"] == practice)
        assert "X-Goog-Signature" in item["mediaUrl"]
        verify_v4_signed_url(item["mediaUrl"], "GET", KEY.public_key())
        async with httpx.AsyncClient() as gcs:
            download = await gcs.get(item["mediaUrl"])
        assert download.status_code == 200 and download.content == b"mp4-bytes"

        # A key with no object behind it (the upload never happened) is refused.
        response = await client.put(
            f"/practices/{practice}",
            json={
                "title": "t",
                "description": "d",
                "durationSeconds": 1,
                "category": "c",
                "published": True,
                "mediaKey": f"practices/{practice}/never-uploaded",
            },
            headers=admin,
        )
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_found"

    emulator.server.stop()  # a fresh app: the heartbeat caches its checks' answers briefly
    async with running(build_app(gcs_settings, issuer)) as client:
        heartbeat = await client.get("/heartbeat")
        assert heartbeat.json()["checks"]["storage"]["status"] == "fail", heartbeat.text
