"""Per-caller token buckets, in process (each worker limits on its own).

A caller is a token subject when authenticated, else a client address. Buckets refill
continuously; an idle caller's bucket is full again and is forgotten when the table grows,
so memory stays bounded however many callers pass by.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from service.errors import RateLimited

MAX_TRACKED_CALLERS = 100_000


class RateLimiter:
    """`check(key)` spends one token or raises RateLimited with a Retry-After."""

    def __init__(
        self,
        rate_per_second: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_tracked: int = MAX_TRACKED_CALLERS,
    ) -> None:
        self.rate = rate_per_second
        self.burst = float(max(1, burst))
        self.enabled = rate_per_second > 0
        self._clock = clock
        self._max_tracked = max_tracked
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, updated)

    def check(self, key: str) -> None:
        if not self.enabled:
            return
        now = self._clock()
        tokens, updated = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - updated) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            raise RateLimited(math.ceil((1.0 - tokens) / self.rate))
        self._buckets[key] = (tokens - 1.0, now)
        if len(self._buckets) > self._max_tracked:
            self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        full_after = self.burst / self.rate
        idle = [key for key, (_, updated) in self._buckets.items() if now - updated >= full_after]
        for key in idle:
            del self._buckets[key]
        if len(self._buckets) > self._max_tracked:  # everyone is active: start over
            self._buckets.clear()
