"""Secrets generated on first use into the data directory (mode 0600, never in the repo).

Two processes starting at once (`serve` and `token`, or two workers) must agree on one
secret: it is written under a temporary name and hard-linked into place, which fails for
the process that lost the race, which then reads the winner's file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def load_or_create_secret(path: Path, generate: Callable[[], bytes]) -> bytes:
    """The bytes at `path`, created from `generate()` first if the file does not exist."""
    if not path.exists():
        _create_exclusively(path, generate())
    return path.read_bytes()


def _create_exclusively(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp creates the file with mode 0600 before a single secret byte is written.
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp_name, path)
        except FileExistsError:
            pass  # another process created it first; use theirs
    finally:
        os.unlink(temp_name)
