"""Connectivity smoke test: `python -m ops.smoke URL --requests 200 [--profile lte] [--token T]`.

Sends N requests, cycling `GET /heartbeat`, an authenticated `POST /map` and `GET /map` (the
app's round trip), and prints p50/p95/p99 latency per kind, status counts and every distinct
error. Exit status: 0 when nothing failed and p95 is within `--budget-ms`; 1 when a request
failed, the service could not be reached or the budget was exceeded; 2 when the test could not
run as asked (bad arguments, no token, a token the service rejects or that may not create the
practice, a `--practice-id` that does not exist). `--profile` routes every connection through an
in-process network conditioner (ops.netcond) with that preset.

The token comes from `--token` or the `SMOKE_TOKEN` environment variable (prefer the variable
in CI: arguments show up in process lists); it is never printed. The practice the map writes
refer to is `--practice-id`, or `smoke-test`, created with PUT /practices when the token is an
admin's.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import json
import math
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from ops.netcond import Conditioner, ProfileError, get_profile
from ops.netcond.http import ConditionedTransport

KINDS = ("heartbeat", "post-map", "get-map")
SMOKE_PRACTICE = "smoke-test"
DEFAULT_PORTS = {"http": 80, "https": 443}


class SmokeError(Exception):
    """The service failed the test before it started (unreachable, not the API): exit 1."""

    exit_code = 1


class SmokeUsageError(SmokeError):
    """The test cannot run as asked (arguments, token, practice): exit 2, nothing to judge."""

    exit_code = 2


@dataclass(frozen=True)
class Outcome:
    kind: str
    status: int | None
    latency_ms: float
    error: str | None = None


@dataclass
class Summary:
    url: str
    profile: str | None
    budget_ms: float
    outcomes: list[Outcome] = field(default_factory=list)
    wall_seconds: float = 0.0

    @property
    def errors(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.error is not None]

    def latencies(self, kind: str | None = None) -> list[float]:
        return sorted(o.latency_ms for o in self.outcomes if kind in (None, o.kind))

    @property
    def p95(self) -> float:
        return percentile(self.latencies(), 95)

    @property
    def within_budget(self) -> bool:
        return bool(self.outcomes) and self.p95 <= self.budget_ms

    @property
    def ok(self) -> bool:
        return not self.errors and self.within_budget

    def as_dict(self) -> dict[str, Any]:
        def stats(kind: str | None) -> dict[str, float | int]:
            values = self.latencies(kind)
            return {
                "count": len(values),
                **{f"p{q}": round(percentile(values, q), 2) for q in (50, 95, 99)},
                "max": round(values[-1], 2) if values else math.nan,
            }

        return {
            "url": self.url,
            "profile": self.profile,
            "requests": len(self.outcomes),
            "wallSeconds": round(self.wall_seconds, 3),
            "latencyMs": {kind: stats(kind) for kind in KINDS} | {"all": stats(None)},
            "statusCounts": {str(k): v for k, v in self.status_counts().items()},
            "errors": dict(Counter(f"{o.kind}: {o.error}" for o in self.errors)),
            "budgetMs": self.budget_ms,
            "ok": self.ok,
        }

    def status_counts(self) -> Counter[int | str]:
        return Counter(o.status if o.status is not None else "no response" for o in self.outcomes)

    def as_text(self) -> str:
        via = f" through profile {self.profile}" if self.profile else ""
        lines = [
            f"smoke: {len(self.outcomes)} requests to {self.url}{via} in {self.wall_seconds:.1f} s",
            f"  {'kind':<10} {'n':>5} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}  (ms)",
        ]
        for kind in (*KINDS, None):
            values = self.latencies(kind)
            if not values:
                continue
            p50, p95, p99 = (percentile(values, q) for q in (50, 95, 99))
            lines.append(
                f"  {kind or 'all':<10} {len(values):>5} {p50:>8.1f} {p95:>8.1f} {p99:>8.1f} "
                f"{values[-1]:>8.1f}"
            )
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(self.status_counts().items(), key=str))
        lines.append(f"  status counts: {counts}")
        if self.errors:
            lines.append(f"  errors ({len(self.errors)}):")
            for message, count in Counter(
                f"{o.kind}: {o.error}" for o in self.errors
            ).most_common():
                lines.append(f"    {count} x {message}")
        else:
            lines.append("  errors: none")
        verdict = "within" if self.within_budget else "OVER"
        lines.append(f"  p95 {self.p95:.1f} ms is {verdict} the {self.budget_ms:g} ms budget")
        lines.append(f"  result: {'PASS' if self.ok else 'FAIL'}")
        return "\n".join(lines)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence (NaN when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def token_subject(token: str) -> str:
    """The `sub` claim, read without verification (the service verifies; we only address)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        subject = claims["sub"]
    except (IndexError, ValueError, KeyError, TypeError, binascii.Error):
        raise SmokeUsageError("the token is not a JWT with a `sub` claim; pass --user-id") from None
    if not isinstance(subject, str) or not subject:
        raise SmokeUsageError("the token's `sub` claim is empty; pass --user-id")
    return subject


def parse_base_url(url: str) -> httpx.URL:
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise SmokeUsageError(f"URL must look like http(s)://host[:port], got {url!r}")
    return httpx.URL(url.rstrip("/"))


def _describe(response: httpx.Response) -> str:
    try:
        error = response.json().get("error", {})
        code, message = error.get("code"), error.get("message")
    except (ValueError, AttributeError):
        code, message = None, None
    if code:
        return f"HTTP {response.status_code} {code}: {message}"
    return f"HTTP {response.status_code}: {response.text[:120]!r}"


@dataclass
class Session:
    client: httpx.AsyncClient
    user_id: str
    practice_id: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    sequence: int = 0


async def ensure_practice(client: httpx.AsyncClient, practice_id: str | None) -> str:
    """The practice to write progress for; created when no id was given (needs an admin token).

    The smoke-test practice is unpublished, so the app never lists it.
    """
    if practice_id:
        return practice_id  # checked by the first POST /map, published or not
    body = {
        "title": "Smoke test",
        "description": "Written by ops.smoke after each deploy; safe to ignore.",
        "durationSeconds": 60,
        "category": "ops",
        "published": False,
    }
    response = await client.put(f"/practices/{SMOKE_PRACTICE}", json=body)
    if response.status_code == 403:
        raise SmokeUsageError(
            "the token is not an admin's, so it cannot create the smoke-test practice: "
            "pass --practice-id of an existing practice"
        )
    if response.status_code not in (200, 201):
        raise _setup_failure(f"PUT /practices/{SMOKE_PRACTICE}", response)
    return SMOKE_PRACTICE


async def preflight(client: httpx.AsyncClient, base: httpx.URL) -> None:
    """One heartbeat, so an unreachable service fails with one clear sentence."""
    try:
        response = await client.get("/heartbeat")
    except httpx.ConnectError as exc:
        raise SmokeError(f"cannot connect to {base}: {exc or 'connection refused'}") from None
    except httpx.TimeoutException:
        raise SmokeError(f"{base} did not answer within the timeout") from None
    except httpx.TransportError as exc:
        raise SmokeError(f"{base}: {type(exc).__name__}: {exc}") from None
    if response.status_code == 404:
        raise SmokeError(f"{base}/heartbeat answered 404: is this the API's base URL?")


def _setup_failure(what: str, response: httpx.Response) -> SmokeError:
    if response.status_code == 401:
        return SmokeUsageError(f"the service rejected the token ({_describe(response)})")
    return SmokeError(f"{what} failed: {_describe(response)}")


async def one_request(session: Session, kind: str) -> Outcome:
    client = session.client
    started = time.perf_counter()
    try:
        if kind == "heartbeat":
            response = await client.get("/heartbeat")
        elif kind == "post-map":
            session.sequence += 1
            response = await client.post(
                "/map",
                json={
                    "userId": session.user_id,
                    "practiceData": {
                        "practiceId": session.practice_id,
                        "status": "in_progress",
                        "progress": 0.5,
                        "updatedAt": datetime.now(UTC).isoformat(),
                        "state": {"smokeRun": session.run_id, "sequence": session.sequence},
                    },
                },
            )
        else:
            response = await client.get("/map")
    except httpx.HTTPError as exc:
        elapsed = (time.perf_counter() - started) * 1000
        return Outcome(kind, None, elapsed, f"{type(exc).__name__}: {exc}".rstrip(": "))
    elapsed = (time.perf_counter() - started) * 1000
    return Outcome(kind, response.status_code, elapsed, check_response(kind, response, session))


def check_response(kind: str, response: httpx.Response, session: Session) -> str | None:
    """None when the response is what the contract promises, else what is wrong with it."""
    if response.status_code != 200:
        return _describe(response)
    try:
        body = response.json()
    except ValueError:
        return "response is not JSON"
    if kind == "heartbeat":
        return None if body.get("status") == "ok" else f"heartbeat status {body.get('status')!r}"
    if body.get("success") is not True:
        return "success is not true"
    data = body.get("data") or {}
    if kind == "post-map" and data.get("practiceId") != session.practice_id:
        return "POST /map did not return the stored practice state"
    if kind == "get-map":
        practices = {p.get("practiceId") for p in data.get("practices", [])}
        if session.practice_id not in practices:
            return "GET /map does not list the practice just written"
    return None


@contextlib.asynccontextmanager
async def open_client(
    base: httpx.URL,
    token: str | None,
    profile: str | None,
    request_timeout_s: float,
    concurrency: int,
) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"User-Agent": "awaterra-ops-smoke/1"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    limits = httpx.Limits(max_connections=concurrency)
    if profile is None:
        async with httpx.AsyncClient(
            base_url=base, headers=headers, timeout=request_timeout_s, limits=limits
        ) as client:
            yield client
        return
    port = base.port or DEFAULT_PORTS[base.scheme]
    async with Conditioner((base.host, port), get_profile(profile)) as proxy:
        transport = ConditionedTransport("127.0.0.1", proxy.port, max_connections=concurrency)
        async with httpx.AsyncClient(
            base_url=base, headers=headers, timeout=request_timeout_s, transport=transport
        ) as client:
            yield client


async def run_smoke(
    url: str,
    *,
    requests: int,
    token: str | None,
    practice_id: str | None = None,
    user_id: str | None = None,
    profile: str | None = None,
    budget_ms: float = 200.0,
    concurrency: int = 1,
    request_timeout_s: float = 10.0,
) -> Summary:
    """Set up (not timed), then send `requests` requests with `concurrency` in flight."""
    base = parse_base_url(url)
    if not token:
        raise SmokeUsageError(
            "no token: pass --token or set SMOKE_TOKEN (the map round trip needs one)"
        )
    subject = user_id or token_subject(token)
    summary = Summary(url=str(base), profile=profile, budget_ms=budget_ms)
    async with open_client(base, token, profile, request_timeout_s, concurrency) as client:
        await preflight(client, base)
        try:
            practice = await ensure_practice(client, practice_id)
        except httpx.HTTPError as exc:
            raise SmokeError(
                f"setting up the practice failed: {type(exc).__name__}: {exc}"
            ) from None
        session = Session(client=client, user_id=subject, practice_id=practice)
        # One write first, so every GET /map can expect the practice in the list.
        first = await one_request(session, "post-map")
        if first.status == 404:
            raise SmokeUsageError(f"practice {practice!r} does not exist on this service")
        if first.status == 401:
            raise SmokeUsageError(f"the service rejected the token ({first.error})")
        if first.error:
            raise SmokeError(f"the first POST /map failed: {first.error}")
        counter = iter(range(requests))

        async def worker() -> None:
            for index in counter:
                summary.outcomes.append(await one_request(session, KINDS[index % len(KINDS)]))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        summary.wall_seconds = time.perf_counter() - started
    return summary


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ops.smoke", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("url", help="base URL of the service, e.g. https://api.example.com")
    parser.add_argument("--requests", type=_positive_int, default=200)
    parser.add_argument("--profile", help="network profile: wifi, lte, 3g, edge, very-bad")
    parser.add_argument("--token", default=os.environ.get("SMOKE_TOKEN"), help="bearer token")
    parser.add_argument("--practice-id", help="existing practice to write progress for")
    parser.add_argument("--user-id", help="userId for POST /map (default: the token's sub)")
    parser.add_argument("--budget-ms", type=float, default=200.0, help="p95 budget (default 200)")
    parser.add_argument("--concurrency", type=_positive_int, default=1)
    parser.add_argument("--timeout", type=float, default=10.0, help="per-request timeout, s")
    parser.add_argument("--json", type=Path, help="also write the summary as JSON here")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.profile:
        try:
            args.profile = get_profile(args.profile).name
        except ProfileError as exc:
            parser.error(str(exc))
    try:
        summary = asyncio.run(
            run_smoke(
                args.url,
                requests=args.requests,
                token=args.token,
                practice_id=args.practice_id,
                user_id=args.user_id,
                profile=args.profile,
                budget_ms=args.budget_ms,
                concurrency=args.concurrency,
                request_timeout_s=args.timeout,
            )
        )
    except SmokeError as exc:
        verdict = "FAIL" if exc.exit_code == 1 else "cannot run"
        print(f"smoke: {verdict}: {exc}", file=sys.stderr)
        return exc.exit_code
    print(summary.as_text())
    if args.json:
        args.json.write_text(json.dumps(summary.as_dict(), indent=2) + "\n")
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(main())
