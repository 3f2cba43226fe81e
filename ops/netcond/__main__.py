"""`python -m ops.netcond --listen 127.0.0.1:P --target 127.0.0.1:Q --profile lte`.

Runs until SIGINT/SIGTERM, then exits 0. Exit 2 when it cannot run: bad arguments, an unknown
profile, or an address it cannot listen on. (A target that refuses connections is not an exit:
each client connection is closed, as the network would.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from ops.netcond.profiles import PRESETS, Profile, ProfileError, get_profile
from ops.netcond.proxy import Conditioner


def parse_hostport(value: str) -> tuple[str, int]:
    """`host:port` (IPv6 as `[::1]:port`) -> (host, port), or an argparse error."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


def describe(profile: Profile) -> str:
    def rate(bps: float | None) -> str:
        if bps is None:
            return "unlimited"
        return f"{bps / 1e6:g} Mbps" if bps >= 1e6 else f"{bps / 1e3:g} kbps"

    up, down = profile.uplink, profile.downlink
    return (
        f"{profile.name}: +{profile.added_rtt_ms:g} ms RTT "
        f"(up {up.delay_ms:g}±{up.jitter_ms:g} ms, down {down.delay_ms:g}±{down.jitter_ms:g} ms), "
        f"down {rate(down.bandwidth_bps)} / up {rate(up.bandwidth_bps)}, "
        f"loss {down.loss:.0%}/{up.loss:.0%} (stall {down.loss_stall_ms:g} ms), "
        f"reset {down.reset:.1%}/{up.reset:.1%}"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ops.netcond",
        description="TCP proxy that emulates a mobile network (Network Link Conditioner presets).",
    )
    parser.add_argument(
        "--listen", type=parse_hostport, default=("127.0.0.1", 0), help="HOST:PORT to listen on"
    )
    parser.add_argument("--target", type=parse_hostport, help="HOST:PORT to forward to")
    parser.add_argument(
        "--profile", default="lte", help=f"one of {', '.join(PRESETS)} (default lte)"
    )
    parser.add_argument(
        "--jitter-ms", type=float, help="uniform ± jitter added to each direction's delay"
    )
    parser.add_argument("--loss", type=float, help="probability a segment is 'lost' (stalls), 0..1")
    parser.add_argument(
        "--loss-stall-ms", type=float, help="how long a lost segment stalls (default 200)"
    )
    parser.add_argument(
        "--reset", type=float, help="probability a segment resets the connection, 0..1"
    )
    parser.add_argument(
        "--seed", type=int, help="seed for jitter, loss and resets (reproducible runs)"
    )
    parser.add_argument("--list", action="store_true", help="print the presets and exit")
    return parser


async def run(conditioner: Conditioner) -> None:
    await conditioner.start()
    host, port = conditioner.address
    print(
        f"netcond listening on {host}:{port} -> {conditioner.target[0]}:{conditioner.target[1]}",
        flush=True,
    )
    print(describe(conditioner.profile), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await conditioner.close()
    print(f"netcond stopped: {conditioner.stats.summary()}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        for preset in PRESETS.values():
            print(describe(preset))
        return 0
    if args.target is None:
        parser.error("--target HOST:PORT is required")
    try:
        profile = get_profile(args.profile).with_overrides(
            jitter_ms=args.jitter_ms,
            loss=args.loss,
            reset=args.reset,
            loss_stall_ms=args.loss_stall_ms,
        )
    except ProfileError as exc:
        parser.error(str(exc))
    conditioner = Conditioner(args.target, profile, listen=args.listen, seed=args.seed)
    try:
        asyncio.run(run(conditioner))
    except OSError as exc:
        print(
            f"netcond: cannot listen on {args.listen[0]}:{args.listen[1]}: {exc}", file=sys.stderr
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
