"""Practice media through S3 (moto on loopback): the app's signed URLs work end to end."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest

from service.settings import Settings
from tests.service.conftest import Issuer, build_app, create_practice, running

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

BUCKET = "awaterra-media-app-test"


@pytest.fixture
def s3_settings(
    settings: Settings, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    s3 = boto3.client("s3")
    try:
        s3.create_bucket(Bucket=BUCKET)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    return replace(settings, storage_url=f"s3://{BUCKET}/media")


async def test_media_round_trip_through_s3(
    s3_settings: Settings, issuer: Issuer, moto_endpoint: str
) -> None:
    app = build_app(s3_settings, issuer)
    async with running(app) as client:
        heartbeat = (await client.get("/heartbeat")).json()
        assert heartbeat["checks"]["storage"]["status"] == "ok"

        admin = issuer.headers("ops", admin=True)
        practice = await create_practice(client, issuer)
        response = await client.post(
            f"/practices/{practice}/media", json={"contentType": "video/mp4"}, headers=admin
        )
        assert response.status_code == 200
        upload = response.json()["data"]
        assert upload["uploadUrl"].startswith(moto_endpoint)
        async with httpx.AsyncClient() as s3_client:
            put = await s3_client.put(
                upload["uploadUrl"], content=b"mp4-bytes", headers={"Content-Type": "video/mp4"}
            )
        assert put.status_code == 200, put.text

        await create_practice(client, issuer, practice, mediaKey=upload["mediaKey"])
        listing = await client.get("/practices", headers=issuer.headers("someone"))
        item = next(p for p in listing.json()["data"]["practices"] if p["id"] == practice)
        assert item["mediaUrl"].startswith(moto_endpoint) and "X-Amz-Signature" in item["mediaUrl"]
        async with httpx.AsyncClient() as s3_client:
            download = await s3_client.get(item["mediaUrl"])
        assert download.status_code == 200 and download.content == b"mp4-bytes"
        stored = boto3.client("s3").head_object(Bucket=BUCKET, Key=f"media/{upload['mediaKey']}")
        assert stored["ContentType"] == "video/mp4"

        # A key with no object behind it (the upload never happened) is refused.
        missing = f"practices/{practice}/never-uploaded"
        response = await client.put(
            f"/practices/{practice}",
            json={
                "title": "t",
                "description": "d",
                "durationSeconds": 1,
                "category": "c",
                "published": True,
                "mediaKey": missing,
            },
            headers=admin,
        )
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "not_found"


async def test_url_lifetimes_and_the_signed_content_type(
    s3_settings: Settings, issuer: Issuer
) -> None:
    """docs/storage.md: the API signs download and upload URLs for 15 minutes, and an upload
    URL signs its Content-Type (the one `uploadHeaders` names)."""
    app = build_app(s3_settings, issuer)
    async with running(app) as client:
        admin = issuer.headers("ops", admin=True)
        practice = await create_practice(client, issuer)
        response = await client.post(
            f"/practices/{practice}/media", json={"contentType": "audio/mpeg"}, headers=admin
        )
        upload = response.json()["data"]
        assert upload["expiresInSeconds"] == 900
        assert upload["uploadHeaders"] == {"Content-Type": "audio/mpeg"}
        upload_query = parse_qs(urlsplit(upload["uploadUrl"]).query)
        assert upload_query["X-Amz-Expires"] == ["900"]
        assert "content-type" in upload_query["X-Amz-SignedHeaders"][0].split(";")
        # moto does not check signatures, so S3's refusal of another Content-Type cannot be
        # seen here; what can: the type is among the signed headers S3 will recompute.
        async with httpx.AsyncClient() as s3_client:
            right = await s3_client.put(
                upload["uploadUrl"], content=b"id3", headers=upload["uploadHeaders"]
            )
            assert right.status_code == 200, right.text

        await create_practice(client, issuer, practice, mediaKey=upload["mediaKey"])
        read = await client.get(f"/practices/{practice}", headers=issuer.headers("someone"))
        download_query = parse_qs(urlsplit(read.json()["data"]["mediaUrl"]).query)
        assert download_query["X-Amz-Expires"] == ["900"]
