"""Link profiles: what one direction of an emulated link does to the bytes crossing it.

The presets copy Apple's Network Link Conditioner (the preference pane shipped in "Additional
Tools for Xcode", and the Settings > Developer > Network Link Conditioner screen on iOS). Each NLC
preset sets, per direction, a bandwidth, a packet-drop percentage and a delay in milliseconds;
the numbers below are the ones those presets show (see docs/ops.md for the table and caveats).
NLC has no jitter setting, so the presets carry none; `--jitter-ms` adds it.

"Downlink" is server -> client (what the phone receives), "uplink" is client -> server.
Delays are one-way, so a preset's added round-trip time is `uplink.delay + downlink.delay`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

KBIT = 1_000
MBIT = 1_000_000

# A lost segment is only noticed by the sender's retransmission timer or by duplicate ACKs:
# Linux's minimum retransmission timeout is 200 ms, so a loss costs at least that much.
DEFAULT_LOSS_STALL_MS = 200.0


class ProfileError(ValueError):
    """A profile name or parameter is unknown or out of range."""


@dataclass(frozen=True)
class Direction:
    """One direction of the link. `bandwidth_bps` None means unlimited."""

    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    bandwidth_bps: float | None = None
    loss: float = 0.0
    reset: float = 0.0
    loss_stall_ms: float = DEFAULT_LOSS_STALL_MS

    def __post_init__(self) -> None:
        if self.delay_ms < 0 or self.jitter_ms < 0 or self.loss_stall_ms < 0:
            raise ProfileError("delay, jitter and loss stall must be >= 0 ms")
        if self.bandwidth_bps is not None and self.bandwidth_bps <= 0:
            raise ProfileError("bandwidth must be > 0 bits/s (or None for unlimited)")
        for label, rate in (("loss", self.loss), ("reset", self.reset)):
            if not 0.0 <= rate <= 1.0:
                raise ProfileError(f"{label} must be a probability between 0 and 1, got {rate}")

    @property
    def bytes_per_second(self) -> float | None:
        return None if self.bandwidth_bps is None else self.bandwidth_bps / 8


@dataclass(frozen=True)
class Profile:
    """A named link: the uplink (client -> server) and downlink (server -> client) directions."""

    name: str
    description: str
    uplink: Direction
    downlink: Direction

    @property
    def added_rtt_ms(self) -> float:
        return self.uplink.delay_ms + self.downlink.delay_ms

    def with_overrides(
        self,
        *,
        jitter_ms: float | None = None,
        loss: float | None = None,
        reset: float | None = None,
        loss_stall_ms: float | None = None,
    ) -> Profile:
        """The same profile with the given parameters replaced in both directions."""
        changes: dict[str, float] = {}
        if jitter_ms is not None:
            changes["jitter_ms"] = jitter_ms
        if loss is not None:
            changes["loss"] = loss
        if reset is not None:
            changes["reset"] = reset
        if loss_stall_ms is not None:
            changes["loss_stall_ms"] = loss_stall_ms
        if not changes:
            return self
        return replace(
            self,
            uplink=replace(self.uplink, **changes),
            downlink=replace(self.downlink, **changes),
        )


PRESETS: dict[str, Profile] = {
    "wifi": Profile(
        name="wifi",
        description="NLC 'Wi-Fi': 40 Mbps down / 33 Mbps up, 1 ms each way, no loss",
        uplink=Direction(delay_ms=1, bandwidth_bps=33 * MBIT),
        downlink=Direction(delay_ms=1, bandwidth_bps=40 * MBIT),
    ),
    "lte": Profile(
        name="lte",
        description="NLC 'LTE': 50 Mbps down / 10 Mbps up, 50 ms down / 65 ms up, no loss",
        uplink=Direction(delay_ms=65, bandwidth_bps=10 * MBIT),
        downlink=Direction(delay_ms=50, bandwidth_bps=50 * MBIT),
    ),
    "3g": Profile(
        name="3g",
        description="NLC '3G': 780 kbps down / 330 kbps up, 100 ms each way, no loss",
        uplink=Direction(delay_ms=100, bandwidth_bps=330 * KBIT),
        downlink=Direction(delay_ms=100, bandwidth_bps=780 * KBIT),
    ),
    "edge": Profile(
        name="edge",
        description="NLC 'Edge': 240 kbps down / 200 kbps up, 400 ms down / 440 ms up, no loss",
        uplink=Direction(delay_ms=440, bandwidth_bps=200 * KBIT),
        downlink=Direction(delay_ms=400, bandwidth_bps=240 * KBIT),
    ),
    "very-bad": Profile(
        name="very-bad",
        description="NLC 'Very Bad Network': 1 Mbps each way, 500 ms each way, 10% packets dropped",
        uplink=Direction(delay_ms=500, bandwidth_bps=1 * MBIT, loss=0.10),
        downlink=Direction(delay_ms=500, bandwidth_bps=1 * MBIT, loss=0.10),
    ),
}

ALIASES = {"4g": "lte", "wi-fi": "wifi", "verybad": "very-bad", "very_bad": "very-bad"}


def get_profile(name: str) -> Profile:
    """The preset called `name` (case-insensitive; `4g` is `lte`), or a ProfileError."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    try:
        return PRESETS[key]
    except KeyError:
        known = ", ".join(sorted(PRESETS))
        raise ProfileError(f"unknown network profile {name!r}; choose one of: {known}") from None
