"""Media in a Cloud Storage bucket, handed out as V4 signed URLs.

Signing needs no long-lived key. With a service-account key file (Application Default
Credentials from `GOOGLE_APPLICATION_CREDENTIALS`, e.g. in tests) the URL is signed locally;
on Cloud Run (metadata-server credentials, which hold no private key) the string to sign goes
to the IAM Credentials API `signBlob` for the runtime service account, which needs
`roles/iam.serviceAccountTokenCreator` on itself.

google-cloud-storage blocks and costs tens of MiB, so it is imported when the store is built
(only for `gs://`), and every call runs in a worker thread. Honours `STORAGE_EMULATOR_HOST`.
"""

from __future__ import annotations

import base64
import datetime
import functools
import json
import os
import threading
from collections.abc import Callable
from typing import Any, BinaryIO, TypeVar

import anyio
import anyio.to_thread
import google.auth
from google.auth import exceptions as auth_errors
from google.auth.credentials import Signing
from google.auth.transport.requests import Request
from starlette.routing import BaseRoute

from service.storage_base import (
    StorageUnavailable,
    validate_content_type,
    validate_expires,
    validate_key,
)

T = TypeVar("T")

IAM_ENDPOINT = "https://iamcredentials.googleapis.com"
PUBLIC_ENDPOINT = "https://storage.googleapis.com"
# cloud-platform, not devstorage.*: the same token calls IAM signBlob, which storage scopes
# do not cover (metadata-server tokens carry the scopes asked for).
CREDENTIALS_SCOPE = "https://www.googleapis.com/auth/cloud-platform"


class GCSStorage:
    """`gs://bucket[/prefix]` via Application Default Credentials."""

    routes: list[BaseRoute]

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        check_timeout: float = 2.0,
        credentials: Any | None = None,
        project: str | None = None,
        iam_endpoint: str = IAM_ENDPOINT,
    ) -> None:
        from google.cloud import storage

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.routes = []
        self._check_timeout = check_timeout
        emulator = os.environ.get("STORAGE_EMULATOR_HOST")
        if credentials is None:
            credentials, default_project = google.auth.default(scopes=[CREDENTIALS_SCOPE])
            project = project or default_project
        self._signer: Any = (
            credentials
            if isinstance(credentials, Signing)
            else IamSigner(credentials, iam_endpoint=iam_endpoint, timeout=check_timeout)
        )
        if emulator:
            # The emulator takes no credentials; the client would send them nowhere useful.
            self._client = storage.Client(project=project or "emulator")
            self.endpoint = emulator.rstrip("/")
            if "://" not in self.endpoint:
                self.endpoint = "http://" + self.endpoint
        else:
            self._client = storage.Client(project=project, credentials=credentials)
            self.endpoint = PUBLIC_ENDPOINT
        self._bucket = self._client.bucket(bucket)

    def object_key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    async def presign_download(self, key: str, expires_seconds: int = 300) -> str:
        expires = validate_expires(expires_seconds)
        return await self._sign(self.object_key(key), "GET", None, expires)

    async def presign_upload(self, key: str, content_type: str, expires_seconds: int = 900) -> str:
        # Signed, so the uploader must send exactly this Content-Type.
        return await self._sign(
            self.object_key(key),
            "PUT",
            validate_content_type(content_type),
            validate_expires(expires_seconds),
        )

    async def exists(self, key: str) -> bool:
        blob = self._bucket.blob(self.object_key(key))
        found: bool = await self._in_thread(
            functools.partial(blob.exists, timeout=self._check_timeout, retry=None)
        )
        return found

    async def put(self, key: str, source: BinaryIO, content_type: str) -> None:
        blob = self._bucket.blob(self.object_key(key))
        source.seek(0)
        await self._in_thread(
            functools.partial(
                blob.upload_from_file,
                source,
                content_type=validate_content_type(content_type),
                rewind=True,
            )
        )

    async def check(self) -> None:
        try:
            with anyio.fail_after(self._check_timeout):
                await self._in_thread(
                    functools.partial(
                        self._client.get_bucket,
                        self.bucket,
                        timeout=self._check_timeout,
                        retry=None,
                    ),
                    abandon_on_cancel=True,
                )
        except TimeoutError:
            raise StorageUnavailable(
                f"bucket did not answer within {self._check_timeout:g}s"
            ) from None

    async def aclose(self) -> None:
        await anyio.to_thread.run_sync(self._client.close)

    async def _sign(self, name: str, method: str, content_type: str | None, expires: int) -> str:
        blob = self._bucket.blob(name)
        url: str = await self._in_thread(
            functools.partial(
                blob.generate_signed_url,
                version="v4",
                method=method,
                expiration=datetime.timedelta(seconds=expires),
                content_type=content_type,
                credentials=self._signer,
                api_access_endpoint=self.endpoint,
            )
        )
        return url

    async def _in_thread(self, call: Callable[[], T], *, abandon_on_cancel: bool = False) -> T:
        from google.api_core import exceptions as api_errors
        from requests import RequestException

        try:
            return await anyio.to_thread.run_sync(call, abandon_on_cancel=abandon_on_cancel)
        except api_errors.GoogleAPICallError as error:
            raise StorageUnavailable(
                f"Cloud Storage refused the request ({error.code or type(error).__name__})"
            ) from None
        except (auth_errors.GoogleAuthError, RequestException, OSError) as error:
            raise StorageUnavailable(
                f"Cloud Storage not reachable ({type(error).__name__})"
            ) from None


class IamSigner(Signing):
    """Signs through the IAM Credentials API `signBlob` as the credentials' service account.

    The account's email comes from the credentials (the metadata server fills it in on the
    first refresh) unless given.
    """

    def __init__(
        self,
        credentials: Any,
        *,
        iam_endpoint: str = IAM_ENDPOINT,
        timeout: float = 2.0,
        service_account_email: str | None = None,
    ) -> None:
        self._credentials = credentials
        self._endpoint = iam_endpoint.rstrip("/")
        self._timeout = timeout
        self._email = service_account_email
        self._lock = threading.Lock()
        self._http = Request()

    @property
    def signer(self) -> IamSigner:
        return self

    @property
    def signer_email(self) -> str:
        with self._lock:
            if self._email is None:
                self._refresh_if_needed()
                email = getattr(self._credentials, "service_account_email", None)
                if not isinstance(email, str) or not email or email == "default":
                    raise auth_errors.RefreshError(  # type: ignore[no-untyped-call]
                        "the credentials do not name a service account"
                    )
                self._email = email
            return self._email

    def sign_bytes(self, message: bytes | str) -> bytes:
        payload = message.encode() if isinstance(message, str) else message
        email = self.signer_email
        with self._lock:
            self._refresh_if_needed()
            token = self._credentials.token
        response = self._http(
            url=f"{self._endpoint}/v1/projects/-/serviceAccounts/{email}:signBlob",
            method="POST",
            body=json.dumps({"payload": base64.b64encode(payload).decode()}).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=self._timeout,
        )
        if response.status != 200:
            raise auth_errors.TransportError(  # type: ignore[no-untyped-call]
                f"IAM signBlob answered {response.status}"
            )
        signed: str = json.loads(response.data)["signedBlob"]
        return base64.b64decode(signed)

    def _refresh_if_needed(self) -> None:
        if not self._credentials.valid:
            self._credentials.refresh(self._http)
