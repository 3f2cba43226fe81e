"""`GET /practices` rendered once a second per worker, not once per request.

The list is the same for every user, changes only when an admin edits a practice, and costs a
query, a body per practice and a signed media URL per practice to render (on S3 a SigV4
signature and a thread hop each). Under load most of that is repeated work, and its CPU is what
the other requests queue behind.

A rendered answer is kept `seconds` (`PRACTICES_CACHE_SECONDS`, 0 turns the cache off). An edit
made through this worker (`PUT /practices/{id}`, the admin panel) clears it once committed, so
its own next read is fresh; the other workers show it within `seconds`. A signed URL served from
the cache has at most `seconds` less of its lifetime left.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

DEFAULT_SECONDS = 1.0
# The key holds the request's base URL (the local file store's media URLs are absolute on it):
# a client choosing Host headers must not grow the cache without bound.
MAX_ENTRIES = 8


@dataclass(frozen=True)
class _Rendered:
    body: bytes
    expires_at: float


class PracticeListCache:
    def __init__(
        self, seconds: float = DEFAULT_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self._clock = clock
        # Bumped by clear(): a render begun under an older generation is not kept.
        self._generation = 0
        self._entries: dict[Hashable, _Rendered] = {}
        self._rendering: dict[Hashable, asyncio.Task[bytes]] = {}

    async def get(self, key: Hashable, render: Callable[[], Awaitable[bytes]]) -> bytes:
        """The answer for `key`: kept, or rendered now (once, however many ask meanwhile)."""
        if self.seconds <= 0:
            return await render()
        kept = self._entries.get(key)
        if kept is not None and self._clock() < kept.expires_at:
            return kept.body
        task = self._rendering.get(key)
        if task is None:
            task = asyncio.ensure_future(self._render(key, render, self._generation))
            # Read here too, so a failure whose every reader gave up is not reported unread.
            task.add_done_callback(lambda done: done.cancelled() or done.exception())
            self._rendering[key] = task
        # Shielded: one caller giving up (a client gone) does not cancel the others' answer.
        return await asyncio.shield(task)

    async def _render(
        self, key: Hashable, render: Callable[[], Awaitable[bytes]], generation: int
    ) -> bytes:
        try:
            body = await render()
        finally:
            if self._rendering.get(key) is asyncio.current_task():
                del self._rendering[key]
        # Cleared while rendering: what was read may predate the edit, so it is not kept.
        if generation == self._generation:
            if key not in self._entries and len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = _Rendered(body, self._clock() + self.seconds)
        return body

    def clear(self) -> None:
        """Call once an edit to the practices has committed."""
        self._generation += 1
        self._entries.clear()
        self._rendering.clear()
