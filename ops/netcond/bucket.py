"""A token bucket that schedules instead of blocking: it answers *when* bytes have been sent."""

from __future__ import annotations


class TokenBucket:
    """`rate` bytes/s of tokens, at most `burst` bytes saved up while the link is idle.

    Tokens may go negative: that debt is the queue in front of the link, and `reserve` returns
    the time at which the last byte of the reservation has been serialised onto the wire.
    Scheduling from the bucket's own clock (not from when a writer happened to wake up) keeps the
    long-run rate exact even when the event loop oversleeps.
    """

    def __init__(self, rate: float, burst: float) -> None:
        if rate <= 0:
            raise ValueError("token bucket rate must be > 0 bytes/s")
        if burst < 0:
            raise ValueError("token bucket burst must be >= 0 bytes")
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._stamp: float | None = None

    def reserve(self, size: int, now: float) -> float:
        """Take `size` bytes' worth of tokens at time `now`; return when they have been sent."""
        if self._stamp is None:
            self._stamp = now
        elapsed = now - self._stamp
        if elapsed > 0:
            self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
            self._stamp = now
        self._tokens -= size
        if self._tokens >= 0:
            return now
        return now + (-self._tokens) / self.rate
