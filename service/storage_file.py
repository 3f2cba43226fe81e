"""Media in a local directory, served by the service itself through S3-style signed URLs.

For `ENVIRONMENT=local` only (settings refuse `file://` in prod). A URL looks like
`/_media/{key}?expires=<unix time>&sig=<hex>`: the signature is an HMAC-SHA256, under a
secret generated into the data directory, of the method, the key, the expiry and (for an
upload) the Content-Type the uploader must send, so a download URL cannot be used to upload
and a URL for one key cannot be bent to another. Uploads stream to a temporary file that is
renamed into place only when complete and within the size limit.
"""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

import anyio
import anyio.to_thread
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from service.secret_files import load_or_create_secret
from service.storage_base import (
    InvalidStorageKey,
    StorageUnavailable,
    validate_content_type,
    validate_expires,
    validate_key,
)

MEDIA_PATH_PREFIX = "/_media/"
SIGNING_KEY_FILE_NAME = "media-signing-key"
DEFAULT_MAX_UPLOAD_BYTES = 256 * 1024 * 1024
SIGNED_TYPE_PARAMETER = "contentType"


class _UploadTooLarge(Exception):
    """The streamed body passed the size limit."""


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"success": False, "error": {"code": code, "message": message}}, status)


class FileStorage:
    """`file:///dir`: objects are plain files under `root`, named by their keys."""

    routes: list[BaseRoute]

    def __init__(
        self,
        root: Path,
        data_dir: Path,
        public_base_url: str | None = None,
        *,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        check_timeout: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root.resolve()
        self.max_upload_bytes = max_upload_bytes
        self._check_timeout = check_timeout
        self._clock = clock
        self._secret = load_or_create_secret(
            data_dir / SIGNING_KEY_FILE_NAME, lambda: secrets.token_bytes(32)
        )
        # Without a public base URL the URLs are relative to the service's own origin.
        self._base_url = public_base_url.rstrip("/") if public_base_url else ""
        self.routes = [
            Route(
                MEDIA_PATH_PREFIX + "{key:path}",
                self._serve,
                methods=["GET", "PUT"],
                include_in_schema=False,
            )
        ]

    async def presign_download(self, key: str, expires_seconds: int = 300) -> str:
        return self._signed_url("GET", validate_key(key), validate_expires(expires_seconds), "")

    async def presign_upload(self, key: str, content_type: str, expires_seconds: int = 900) -> str:
        content_type = validate_content_type(content_type)
        url = self._signed_url(
            "PUT", validate_key(key), validate_expires(expires_seconds), content_type
        )
        # The signature covers the type; the URL also names it so a mismatch can be explained.
        return f"{url}&{SIGNED_TYPE_PARAMETER}={quote(content_type, safe='')}"

    async def exists(self, key: str) -> bool:
        try:
            path = self.path_for(key)
        except InvalidStorageKey:
            return False
        try:
            with anyio.fail_after(self._check_timeout):
                return await anyio.to_thread.run_sync(path.is_file, abandon_on_cancel=True)
        except TimeoutError:
            raise StorageUnavailable(
                f"media directory did not answer within {self._check_timeout:g}s"
            ) from None

    async def put(self, key: str, source: BinaryIO, content_type: str) -> None:
        validate_content_type(content_type)
        path = await anyio.to_thread.run_sync(self.path_for, key)
        try:
            await anyio.to_thread.run_sync(_write_whole, source, path)
        except OSError as error:
            raise StorageUnavailable(
                f"media directory refused the write ({type(error).__name__})"
            ) from None

    async def check(self) -> None:
        try:
            with anyio.fail_after(self._check_timeout):
                writable = await anyio.to_thread.run_sync(
                    self._is_writable_directory, abandon_on_cancel=True
                )
        except TimeoutError:
            raise StorageUnavailable(
                f"media directory did not answer within {self._check_timeout:g}s"
            ) from None
        if not writable:
            raise StorageUnavailable("media directory is missing or not writable")

    async def aclose(self) -> None:
        return None

    def path_for(self, key: str) -> Path:
        """The file holding `key`; refuses anything (e.g. a symlink) that leads out of root."""
        path = (self.root / validate_key(key)).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise InvalidStorageKey("storage key leads outside the media directory")
        return path

    def _signed_url(self, method: str, key: str, expires_seconds: int, content_type: str) -> str:
        expires = int(self._clock()) + expires_seconds
        signature = self._signature(method, key, expires, content_type)
        return (
            f"{self._base_url}{MEDIA_PATH_PREFIX}{quote(key, safe='/')}"
            f"?expires={expires}&sig={signature}"
        )

    def _signature(self, method: str, key: str, expires: int, content_type: str) -> str:
        message = f"{method}\n{key}\n{expires}\n{content_type}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def _is_writable_directory(self) -> bool:
        return self.root.is_dir() and os.access(self.root, os.W_OK | os.X_OK)

    async def _serve(self, request: Request) -> Response:
        method = "GET" if request.method in ("GET", "HEAD") else request.method
        try:
            key = validate_key(request.path_params["key"])
        except InvalidStorageKey:
            return _error(404, "not_found", "no such object")
        content_type = request.headers.get("content-type", "") if method == "PUT" else ""
        signed_type = request.query_params.get(SIGNED_TYPE_PARAMETER)
        if method == "PUT" and signed_type is not None and content_type != signed_type:
            sent = f"Content-Type: {content_type}" if content_type else "no Content-Type"
            return _error(
                403,
                "forbidden",
                f"this upload URL is signed for Content-Type: {signed_type}; "
                f"send exactly that header (the request had {sent})",
            )
        refusal = self._refuse_signature(request, method, key, content_type)
        if refusal is not None:
            return refusal
        try:
            path = await anyio.to_thread.run_sync(self.path_for, key)
        except InvalidStorageKey:
            return _error(404, "not_found", "no such object")
        if method == "PUT":
            return await self._receive(request, key, path)
        if not await anyio.to_thread.run_sync(path.is_file):
            return _error(404, "not_found", "no such object")
        media_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
        # Served from the API's origin: never let a browser run an uploaded document.
        headers = {"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"}
        return FileResponse(path, media_type=media_type, headers=headers)

    def _refuse_signature(
        self, request: Request, method: str, key: str, content_type: str
    ) -> Response | None:
        expires_text = request.query_params.get("expires", "")
        signature = request.query_params.get("sig", "")
        if not expires_text.isdigit() or len(expires_text) > 12 or not signature:
            return _error(403, "forbidden", "missing or malformed URL signature")
        expires = int(expires_text)
        expected = self._signature(method, key, expires, content_type)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            return _error(403, "forbidden", "URL signature does not match")
        if expires < self._clock():
            return _error(403, "forbidden", "URL expired")
        return None

    async def _receive(self, request: Request, key: str, path: Path) -> Response:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_upload_bytes:
            return _error(413, "payload_too_large", f"upload over {self.max_upload_bytes} bytes")
        await anyio.to_thread.run_sync(lambda: path.parent.mkdir(parents=True, exist_ok=True))
        fd, temp_name = await anyio.to_thread.run_sync(
            lambda: tempfile.mkstemp(prefix=".upload-", dir=path.parent)
        )
        size = 0
        try:
            async with await anyio.open_file(fd, "wb") as handle:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > self.max_upload_bytes:
                        raise _UploadTooLarge
                    await handle.write(chunk)
            await anyio.to_thread.run_sync(os.replace, temp_name, path)
        except _UploadTooLarge:
            await anyio.to_thread.run_sync(_unlink_quietly, temp_name)
            return _error(413, "payload_too_large", f"upload over {self.max_upload_bytes} bytes")
        except ClientDisconnect:
            await anyio.to_thread.run_sync(_unlink_quietly, temp_name)
            return _error(400, "validation_error", "upload incomplete: the client disconnected")
        except BaseException:
            _unlink_quietly(temp_name)  # no await: this may be a cancellation
            raise
        return JSONResponse({"success": True, "data": {"mediaKey": key, "size": size}})


def _write_whole(source: BinaryIO, path: Path) -> None:
    """Copy into a temporary file beside `path`, renamed into place only once complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=".upload-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            source.seek(0)
            shutil.copyfileobj(source, handle)
        os.replace(temp_name, path)
    except BaseException:
        _unlink_quietly(temp_name)
        raise


def _unlink_quietly(name: str) -> None:
    try:
        os.unlink(name)
    except FileNotFoundError:
        pass
