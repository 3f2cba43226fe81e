"""Media storage behind one small interface: S3 or Cloud Storage, a local directory on a laptop.

`build_storage(STORAGE_URL, data_dir)` picks the store. Both hand out short-lived signed
URLs, so media bytes never pass through the API's request path (except the local store,
which serves its own URLs under `/_media/`; mount `storage.routes`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from service.storage_base import (
    InvalidStorageKey,
    Storage,
    StorageUnavailable,
    validate_key,
)
from service.storage_file import FileStorage
from service.storage_s3 import S3Storage

if TYPE_CHECKING:
    from service.storage_gcs import GCSStorage

__all__ = [
    "FileStorage",
    "GCSStorage",
    "InvalidStorageKey",
    "S3Storage",
    "Storage",
    "StorageUnavailable",
    "build_storage",
    "validate_key",
]

# S3's rules for new buckets: 3-63 of lowercase letters, digits, '.', '-'; alphanumeric ends.
_BUCKET_PATTERN = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# Cloud Storage allows '_' as well; dotted names (domain-verified buckets) up to 222 are rare
# enough that the 63-character rule is kept.
_GCS_BUCKET_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]")
_USAGE = (
    "STORAGE_URL must be s3://bucket[/prefix], gs://bucket[/prefix] or file:///absolute/directory"
)


def build_storage(url: str | None, data_dir: Path, public_base_url: str | None = None) -> Storage:
    """The store `url` names (default: files under `<data_dir>/storage`)."""
    if not url:
        return FileStorage(data_dir / "storage", data_dir, public_base_url)
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise ValueError(f"{_USAGE}; query strings and fragments are not allowed, got {url!r}")
    if parts.scheme == "s3":
        bucket = parts.netloc
        if not _BUCKET_PATTERN.fullmatch(bucket) or ".." in bucket:
            raise ValueError(f"{_USAGE}; {bucket!r} is not a valid bucket name")
        prefix = parts.path.strip("/")
        if prefix:
            validate_prefix(prefix)
        return S3Storage(bucket, prefix)
    if parts.scheme == "gs":
        bucket = parts.netloc
        if not _GCS_BUCKET_PATTERN.fullmatch(bucket) or ".." in bucket or bucket.startswith("goog"):
            raise ValueError(f"{_USAGE}; {bucket!r} is not a valid bucket name")
        prefix = parts.path.strip("/")
        if prefix:
            validate_prefix(prefix)
        # Imported here: google-cloud-storage is only loaded by processes that use it.
        from service.storage_gcs import GCSStorage

        return GCSStorage(bucket, prefix)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(
                f"{_USAGE}; file URLs name a local directory, got host {parts.netloc!r}"
            )
        directory = unquote(parts.path)
        if not directory.startswith("/"):
            raise ValueError(f"{_USAGE}; the directory must be absolute, got {url!r}")
        return FileStorage(Path(directory), data_dir, public_base_url)
    raise ValueError(f"{_USAGE}, got {url!r}")


def validate_prefix(prefix: str) -> str:
    try:
        return validate_key(prefix)
    except InvalidStorageKey as error:
        raise ValueError(f"{_USAGE}; bad prefix {prefix!r}: {error}") from None
