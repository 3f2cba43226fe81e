"""Media in an S3 bucket, handed out as SigV4 presigned URLs.

boto3 blocks (credential refresh from the ECS/IMDS endpoint can hit the network even for a
presign), so every call runs in a worker thread. boto3 is imported when the store is built,
so a process serving from `file://` never pays its start-up time or memory.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, BinaryIO, TypeVar

import anyio
import anyio.to_thread
from starlette.routing import BaseRoute

from service.storage_base import (
    StorageUnavailable,
    validate_content_type,
    validate_expires,
    validate_key,
)

T = TypeVar("T")


class S3Storage:
    """`s3://bucket[/prefix]` via boto3's default credential chain; honours AWS_ENDPOINT_URL."""

    routes: list[BaseRoute]

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        check_timeout: float = 2.0,
        client: Any | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.routes = []
        self._check_timeout = check_timeout
        self._client = client if client is not None else _default_client(check_timeout)

    def object_key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    async def presign_download(self, key: str, expires_seconds: int = 300) -> str:
        params = {"Bucket": self.bucket, "Key": self.object_key(key)}
        return await self._presign("get_object", params, validate_expires(expires_seconds))

    async def presign_upload(
        self, key: str, content_type: str, expires_seconds: int = 900
    ) -> str:
        params = {
            "Bucket": self.bucket,
            "Key": self.object_key(key),
            # Signed, so the uploader must send exactly this Content-Type.
            "ContentType": validate_content_type(content_type),
        }
        return await self._presign("put_object", params, validate_expires(expires_seconds))

    async def exists(self, key: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        head = functools.partial(
            self._client.head_object, Bucket=self.bucket, Key=self.object_key(key)
        )
        try:
            await anyio.to_thread.run_sync(head)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "unknown")
            if code in ("404", "NoSuchKey", "NotFound"):
                return False
            raise StorageUnavailable(f"S3 refused the request ({code})") from None
        except BotoCoreError as error:
            raise StorageUnavailable(f"S3 not reachable ({type(error).__name__})") from None
        return True

    async def put(self, key: str, source: BinaryIO, content_type: str) -> None:
        # One PutObject: S3 stores the object whole or not at all.
        source.seek(0)
        await self._in_thread(
            functools.partial(
                self._client.put_object,
                Bucket=self.bucket,
                Key=self.object_key(key),
                Body=source,
                ContentType=validate_content_type(content_type),
            )
        )

    async def check(self) -> None:
        try:
            with anyio.fail_after(self._check_timeout):
                await self._in_thread(
                    functools.partial(self._client.head_bucket, Bucket=self.bucket),
                    abandon_on_cancel=True,
                )
        except TimeoutError:
            raise StorageUnavailable(
                f"bucket did not answer within {self._check_timeout:g}s"
            ) from None

    async def aclose(self) -> None:
        await anyio.to_thread.run_sync(self._client.close)

    async def _presign(self, operation: str, params: dict[str, str], expires: int) -> str:
        url: str = await self._in_thread(
            functools.partial(
                self._client.generate_presigned_url,
                operation,
                Params=params,
                ExpiresIn=expires,
            )
        )
        return url

    async def _in_thread(self, call: Callable[[], T], *, abandon_on_cancel: bool = False) -> T:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return await anyio.to_thread.run_sync(call, abandon_on_cancel=abandon_on_cancel)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "unknown")
            raise StorageUnavailable(f"S3 refused the request ({code})") from None
        except BotoCoreError as error:
            raise StorageUnavailable(f"S3 not reachable ({type(error).__name__})") from None


def _default_client(timeout: float) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        signature_version="s3v4",
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"max_attempts": 2, "mode": "standard"},
    )
    return boto3.session.Session().client("s3", config=config)
