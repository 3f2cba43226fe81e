"""`python -m ops.load URL --users N --spawn-rate R --duration 30s [...]`: headless locust run.

Tokens: `--tokens-file` (one bearer token per line, e.g. test users of the Cognito pool), or
`--mint-local` against a local service (a token per user, at most 100 then shared, minted
with `python -m service token` in this directory and environment, like the server).
Practices: `--practice-ids`, or `load-test-1..5` created (unpublished) with an admin token
(`--admin-token` / `LOAD_ADMIN_TOKEN`, or minted with `--mint-local`). `--profile` runs the
test through the network conditioner (http:// only). Exit status: 0 when requests were made
and none failed (and p95 is within `--max-p95-ms` if given); 1 when a request failed, none was
made, the budget was exceeded or the service cannot be reached; 2 when the test cannot run as
asked (bad arguments, no tokens, a first token the service rejects, no practices and no admin).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from ops.netcond import Conditioner, ProfileError, get_profile

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
REPO_ROOT = Path(__file__).resolve().parents[2]
DURATION = re.compile(r"^(\d+h)?(\d+m)?(\d+s)?$")
LOAD_PRACTICES = [f"load-test-{i}" for i in range(1, 6)]
# Minting forks one `python -m service token` each; beyond this, users share subjects.
MAX_MINTED_TOKENS = 100


class LoadError(Exception):
    """The load test cannot run as asked: bad arguments, no tokens, no practices (exit 2)."""


class LoadFailure(Exception):
    """The service failed before the run started: unreachable, or broken (exit 1)."""


@dataclass(frozen=True)
class Row:
    method: str
    name: str
    requests: int
    failures: int
    p50: float
    p95: float
    p99: float
    rps: float


def mint_local_tokens(subjects: list[str], admin: bool = False) -> list[str]:
    """Tokens from `python -m service token` (the local development key of this checkout)."""

    def mint(subject: str) -> str:
        argv = [sys.executable, "-m", "service", "token", subject, *(["--admin"] if admin else [])]
        done = subprocess.run(  # noqa: S603 (fixed argv; the subject is ours)
            argv, capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            raise LoadError(f"`python -m service token` failed: {done.stderr.strip()[-300:]}")
        return done.stdout.strip()

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(mint, subjects))


def create_practices(base_url: str, admin_token: str) -> list[str]:
    body = {
        "title": "Load test",
        "description": "Written by ops.load; unpublished, safe to ignore.",
        "durationSeconds": 300,
        "category": "ops",
        "published": False,
    }
    headers = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=15) as client:
        for practice in LOAD_PRACTICES:
            try:
                response = client.put(f"/practices/{practice}", json=body)
            except httpx.HTTPError as exc:
                raise LoadFailure(f"cannot reach {base_url}: {exc}") from None
            answer = f"PUT /practices/{practice} answered {response.status_code}"
            if response.status_code in (401, 403):
                raise LoadError(
                    f"{answer}: {response.text[:200]} (an admin token is needed, "
                    "or pass --practice-ids)"
                )
            if response.status_code not in (200, 201):
                raise LoadFailure(f"{answer}: {response.text[:200]}")
    return LOAD_PRACTICES


def preflight(base_url: str, token: str) -> None:
    """One heartbeat and one read with the first token, so the run starts only when it can pass."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, timeout=15) as client:
        try:
            client.get("/heartbeat")
            response = client.get("/map", headers=headers)
        except httpx.HTTPError as exc:
            raise LoadFailure(f"cannot reach {base_url}: {exc}") from None
    if response.status_code == 401:
        raise LoadError(
            f"the service rejected the first token (HTTP 401: {response.text[:200]}); "
            "check --tokens-file, or use --mint-local against a local service"
        )


@contextmanager
def conditioned(url: str, profile_name: str | None) -> Iterator[str]:
    """The URL locust should hit: the service itself, or a conditioner in front of it."""
    if profile_name is None:
        yield url
        return
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise LoadError("--profile needs an http:// URL (locust would check TLS against 127.0.0.1)")
    profile = get_profile(profile_name)
    loop = asyncio.new_event_loop()
    conditioner = Conditioner((parts.hostname or "127.0.0.1", parts.port or 80), profile)
    loop.run_until_complete(conditioner.start())
    thread = threading.Thread(target=loop.run_forever, name="netcond", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{conditioner.port}"
    finally:
        asyncio.run_coroutine_threadsafe(conditioner.close(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def _percentile(histogram: Counter[int], q: float) -> float:
    """Nearest-rank percentile from locust's {rounded ms: count} histogram."""
    total = sum(histogram.values())
    if total == 0:
        return 0.0
    rank, seen = max(1, math.ceil(q / 100 * total)), 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return float(value)
    return float(max(histogram))


def _row(method: str, name: str, entries: list[dict[str, Any]]) -> Row:
    histogram: Counter[int] = Counter()
    for entry in entries:
        histogram.update({int(ms): int(n) for ms, n in entry["response_times"].items()})
    requests = sum(int(e["num_requests"]) for e in entries)
    starts = [float(e["start_time"]) for e in entries]
    ends = [float(e["last_request_timestamp"] or e["start_time"]) for e in entries]
    elapsed = max(ends, default=0.0) - min(starts, default=0.0)
    return Row(
        method=method,
        name=name,
        requests=requests,
        failures=sum(int(e["num_failures"]) for e in entries),
        p50=_percentile(histogram, 50),
        p95=_percentile(histogram, 95),
        p99=_percentile(histogram, 99),
        rps=requests / elapsed if elapsed > 0 else 0.0,
    )


def read_stats(json_file: Path) -> list[Row]:
    """Per-request rows and an `Aggregated` row from locust's final `--json-file` stats."""
    if not json_file.exists():
        return []
    entries: list[dict[str, Any]] = json.loads(json_file.read_text() or "[]")
    rows = [_row(e["method"], e["name"], [e]) for e in sorted(entries, key=lambda e: e["name"])]
    return [*rows, _row("", "Aggregated", entries)] if entries else []


def read_failures(prefix: Path) -> list[str]:
    path = prefix.with_name(prefix.name + "_failures.csv")
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return [
            f"{r['Occurrences']} x {r['Method']} {r['Name']}: {r['Error']}"
            for r in csv.DictReader(handle)
        ]


def report(rows: list[Row], failures: list[str]) -> str:
    lines = [f"  {'request':<18} {'n':>7} {'fail':>5} {'p50':>7} {'p95':>7} {'p99':>7} {'rps':>7}"]
    for row in rows:
        lines.append(
            f"  {row.name:<18} {row.requests:>7} {row.failures:>5} {row.p50:>7.0f} {row.p95:>7.0f} "
            f"{row.p99:>7.0f} {row.rps:>7.1f}"
        )
    lines += [f"  failure: {line}" for line in failures]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ops.load", description=__doc__)
    parser.add_argument("url", help="base URL of the service")
    parser.add_argument("--users", type=int, default=10, help="concurrent simulated users")
    parser.add_argument("--spawn-rate", type=float, default=2.0, help="users started per second")
    parser.add_argument("--duration", default="30s", help="run time, e.g. 30s, 5m, 1h30m")
    parser.add_argument("--tokens-file", type=Path, help="bearer tokens, one per line")
    parser.add_argument("--mint-local", action="store_true", help="mint local dev tokens")
    parser.add_argument("--admin-token", default=os.environ.get("LOAD_ADMIN_TOKEN"))
    parser.add_argument("--practice-ids", help="comma-separated existing practice ids")
    parser.add_argument("--profile", help="network profile (wifi, lte, 3g, edge, very-bad)")
    parser.add_argument("--wait", default="0.5-2.0", help="think time MIN-MAX seconds")
    parser.add_argument("--max-p95-ms", type=float, help="also fail when aggregated p95 is above")
    parser.add_argument("--out", type=Path, help="keep locust's CSV/HTML reports in this directory")
    return parser


def validate(args: argparse.Namespace) -> None:
    parts = urlsplit(args.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LoadError(f"URL must look like http(s)://host[:port], got {args.url!r}")
    if args.users < 1 or args.spawn_rate <= 0:
        raise LoadError("--users must be >= 1 and --spawn-rate > 0")
    if not args.duration or not DURATION.match(args.duration):
        raise LoadError(f"--duration must look like 30s, 5m or 1h30m, got {args.duration!r}")
    if not re.match(r"^\d+(\.\d+)?(-\d+(\.\d+)?)?$", args.wait):
        raise LoadError(f"--wait must look like 0.5-2.0, got {args.wait!r}")
    if args.tokens_file is None and not args.mint_local:
        raise LoadError(
            "no tokens: pass --tokens-file (tokens of test users) or --mint-local (local service)"
        )
    if args.profile:
        if parts.scheme != "http":
            raise LoadError(
                "--profile needs an http:// URL (locust would check TLS against 127.0.0.1)"
            )
        try:
            args.profile = get_profile(args.profile).name
        except ProfileError as exc:
            raise LoadError(str(exc)) from None


def prepare(args: argparse.Namespace, workdir: Path) -> tuple[Path, list[str]]:
    """(tokens file, practice ids) for the run."""
    if args.tokens_file is not None:
        if not args.tokens_file.is_file():
            raise LoadError(f"tokens file {args.tokens_file} does not exist")
        tokens_file = args.tokens_file
        if not tokens_file.read_text().split():
            raise LoadError(f"tokens file {tokens_file} holds no tokens")
    else:
        count = min(args.users, MAX_MINTED_TOKENS)
        tokens = mint_local_tokens([f"load-user-{i}" for i in range(1, count + 1)])
        tokens_file = workdir / "tokens.txt"
        tokens_file.touch(mode=0o600)
        tokens_file.write_text("\n".join(tokens) + "\n")
    if args.practice_ids:
        practices = [p.strip() for p in args.practice_ids.split(",") if p.strip()]
    else:
        admin = args.admin_token
        if not admin and args.mint_local:
            admin = mint_local_tokens(["load-admin"], admin=True)[0]
        if not admin:
            raise LoadError("no practices: pass --practice-ids, or an admin token to create them")
        practices = create_practices(args.url, admin)
    return tokens_file, practices


def run(args: argparse.Namespace) -> int:
    validate(args)
    with tempfile.TemporaryDirectory(prefix="ops-load-") as scratch:
        workdir = Path(scratch)
        out = args.out or workdir
        out.mkdir(parents=True, exist_ok=True)
        tokens_file, practices = prepare(args, workdir)
        preflight(args.url.rstrip("/"), tokens_file.read_text().split()[0])
        prefix = out / "locust"
        env = {
            **os.environ,
            "LOAD_TOKENS_FILE": str(tokens_file),
            "LOAD_PRACTICE_IDS": ",".join(practices),
            "LOAD_WAIT_SECONDS": args.wait,
        }
        with conditioned(args.url.rstrip("/"), args.profile) as host:
            via = f" through profile {args.profile}" if args.profile else ""
            print(
                f"load: {args.users} users (+{args.spawn_rate:g}/s) for {args.duration} "
                f"against {args.url}{via}",
                flush=True,
            )
            argv = [
                sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
                "--users", str(args.users), "--spawn-rate", str(args.spawn_rate),
                "--run-time", args.duration, "--host", host, "--csv", str(prefix),
                "--json-file", str(prefix),
                "--html", str(out / "locust.html"), "--only-summary", "--stop-timeout", "5",
                "--loglevel", "WARNING", "--exit-code-on-error", "1",
            ]  # fmt: skip
            done = subprocess.run(argv, env=env, cwd=REPO_ROOT, check=False)  # noqa: S603
        rows = read_stats(prefix.with_suffix(".json"))
        failures = read_failures(prefix)
    total = next((row for row in rows if row.name == "Aggregated"), None)
    print(f"load summary ({args.duration}, {args.users} users):")
    print(report(rows, failures))
    problems = []
    if done.returncode not in (0, 1):
        problems.append(f"locust exited with {done.returncode}")
    if total is None or total.requests == 0:
        problems.append("no requests were made")
    elif total.failures:
        problems.append(f"{total.failures} of {total.requests} requests failed")
    if total and args.max_p95_ms is not None and total.p95 > args.max_p95_ms:
        problems.append(f"p95 {total.p95:.0f} ms is over the {args.max_p95_ms:g} ms budget")
    print(f"  result: {'FAIL: ' + '; '.join(problems) if problems else 'PASS'}")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except LoadError as exc:
        print(f"load: cannot run: {exc}", file=sys.stderr)
        return 2
    except LoadFailure as exc:
        print(f"load: FAIL: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
