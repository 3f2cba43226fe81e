"""The token bucket: burst, refill, Retry-After, bounded memory."""

from __future__ import annotations

import pytest

from service.errors import RateLimited
from service.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refill() -> None:
    clock = Clock()
    limiter = RateLimiter(2.0, 3, clock=clock)
    for _ in range(3):
        limiter.check("a")
    with pytest.raises(RateLimited) as caught:
        limiter.check("a")
    assert caught.value.headers["Retry-After"] == "1"
    limiter.check("b")  # buckets are per caller
    clock.now = 0.5
    limiter.check("a")  # one token back after 0.5 s at 2/s
    with pytest.raises(RateLimited):
        limiter.check("a")


def test_disabled_when_rate_is_zero() -> None:
    limiter = RateLimiter(0.0, 1)
    for _ in range(100):
        limiter.check("a")


def test_memory_stays_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(10.0, 5, clock=clock, max_tracked=100)
    for caller in range(1000):
        clock.now += 1.0
        limiter.check(str(caller))
    assert len(limiter._buckets) <= 101
