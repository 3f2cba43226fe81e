"""A bounded LRU of verified tokens, so a repeat caller skips the signature check.

Token verification sits on every authenticated request. A signature check costs tens of
microseconds (RSA) to a few hundred (ECDSA); a dictionary lookup costs well under one.
Entries die at the token's own `exp`, so the cache never extends a token's life.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class ExpiringLruCache(Generic[T]):
    """Maps a key to a value until an absolute expiry time; evicts least recently used first.

    Used from one event loop at a time; every operation is a handful of dict calls and
    never awaits, so no lock is needed.
    """

    def __init__(self, max_entries: int, clock: Callable[[], float] = time.time) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[T, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> T | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, expires_at = entry
        if expires_at <= self._clock():
            self._entries.pop(key, None)
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, key: str, value: T, expires_at: float) -> None:
        if expires_at <= self._clock():
            return
        self._entries[key] = (value, expires_at)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
