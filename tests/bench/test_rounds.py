"""bench/run.py --rounds: one scenario's interleaved rounds reported as one result."""

from __future__ import annotations

from bench.run import LoadResult, combine


def run(p99: float, requests: int, errors: int = 0, statements: float = 0.0,
        writes: float = 0.0) -> LoadResult:
    return LoadResult(
        scenario="POST /map", workers=1, connections=16, requests=requests, seconds=10.0,
        errors=errors, not_applied=0, p50_ms=p99 / 4, p95_ms=p99 / 2, p99_ms=p99,
        max_ms=p99 * 2, server_cpu_percent=90.0, load_before=1.0, load_after=1.5,
        statements=statements, writes=writes,
    )


def test_a_disturbed_round_is_left_out_of_the_latencies_but_not_the_errors_or_max() -> None:
    combined = combine([run(11.0, 20_000), run(120.0, 15_000, errors=1), run(12.0, 25_000)])
    assert combined.p99_ms == 12.0 and combined.p50_ms == 3.0
    assert combined.max_ms == 240.0  # the worst request of any round stays visible
    assert combined.errors == 1
    assert combined.requests_per_second == 2000.0  # all requests over all seconds
    assert combined.rounds is not None and [r["p99_ms"] for r in combined.rounds] == [
        11.0, 120.0, 12.0]


def test_writes_per_statement_over_all_rounds() -> None:
    combined = combine([run(10.0, 100, statements=10, writes=80),
                        run(10.0, 100, statements=30, writes=40)])
    assert combined.writes_per_statement == 3.0
    assert combine([run(10.0, 100)]).writes_per_statement is None


def test_one_round_is_itself() -> None:
    single = run(11.0, 20_000)
    combined = combine([single])
    assert (combined.p99_ms, combined.requests, combined.rounds) == (11.0, 20_000, None)


def test_wal_per_request_and_checkpoints_over_all_rounds() -> None:
    first, second = run(10.0, 1000), run(10.0, 3000)
    first.wal_bytes, first.checkpoints = 1024 * 1000, 0
    second.wal_bytes, second.checkpoints = 1024 * 9000, 1
    combined = combine([first, second])
    assert combined.wal_kb_per_request == 2.5  # 10,000 kB over 4,000 requests
    assert combined.checkpoints == 1
    assert run(10.0, 0).wal_kb_per_request == 0.0
