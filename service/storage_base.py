"""What every media store offers, and the checks every store applies to its inputs."""

from __future__ import annotations

import re
from typing import BinaryIO, Protocol

from starlette.routing import BaseRoute

MAX_KEY_LENGTH = 512
MAX_EXPIRES_SECONDS = 7 * 24 * 3600  # the SigV4 ceiling; the file store follows it too
MAX_CONTENT_TYPE_LENGTH = 255

# Each path segment starts with a letter or digit: no `.`/`..`, no hidden files, no empty
# segments, nothing a shell, a URL or a file system would reinterpret.
_KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)*")
_MIME_PART = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*"
_CONTENT_TYPE_PATTERN = re.compile(f"{_MIME_PART}/{_MIME_PART}")


class StorageUnavailable(Exception):
    """The media store cannot be reached or did not answer in time."""


class InvalidStorageKey(ValueError):
    """An object key that could escape its directory or that the store cannot hold."""


class Storage(Protocol):
    """A media store that hands out short-lived signed URLs instead of proxying bytes."""

    #: Extra routes the service must mount (the file store serves its own URLs).
    routes: list[BaseRoute]

    async def presign_download(self, key: str, expires_seconds: int = 300) -> str: ...

    async def presign_upload(
        self, key: str, content_type: str, expires_seconds: int = 900
    ) -> str: ...

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under `key`; StorageUnavailable when the store is down."""
        ...

    async def put(self, key: str, source: BinaryIO, content_type: str) -> None:
        """Store `source` (read from its start) under `key`, whole or not at all (the admin
        panel's upload); StorageUnavailable when the store refuses or cannot be reached."""
        ...

    async def check(self) -> None:
        """Return when the store answers; raise StorageUnavailable (bounded by a timeout)."""
        ...

    async def aclose(self) -> None: ...


def validate_key(key: str) -> str:
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_LENGTH:
        raise InvalidStorageKey(f"storage key must be 1..{MAX_KEY_LENGTH} characters")
    if not _KEY_PATTERN.fullmatch(key) or ".." in key:
        raise InvalidStorageKey(
            "storage key must be slash-separated segments of letters, digits, '.', '_' or '-', "
            "each starting with a letter or digit"
        )
    return key


def validate_expires(expires_seconds: int) -> int:
    if not 0 < expires_seconds <= MAX_EXPIRES_SECONDS:
        raise ValueError(
            f"expires_seconds must be between 1 and {MAX_EXPIRES_SECONDS}, got {expires_seconds}"
        )
    return expires_seconds


def validate_content_type(content_type: str) -> str:
    if len(content_type) > MAX_CONTENT_TYPE_LENGTH or not _CONTENT_TYPE_PATTERN.fullmatch(
        content_type
    ):
        raise ValueError(f"content type must look like 'type/subtype', got {content_type[:80]!r}")
    return content_type
