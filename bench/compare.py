"""Two benchmark results side by side: `python bench/compare.py SMALL.json LARGE.json`.

Reads what `bench/run.py` wrote to bench/results/ for two `--rows` sizes and prints a Markdown
table of every scenario measured in both (requests per second, p50/p95/p99), the ratio of the
large run's p99 to the small run's, and the issue 13 checks that compare the two sizes:
every p99 at 16 connections within 1.5x, and `POST /map` throughput at 64 connections at
least 0.8x. Then the machine's speed in the large run against the small one, read from
`GET /heartbeat` (which does not touch the data), so a pair measured while other tenants took
the CPU shows it. Exits 1 when a check fails, 2 when the files cannot be read or compared.

Not a test: the figures depend on the machine each run had.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

P99_RATIO_MAX = 1.5
THROUGHPUT_RATIO_MIN = 0.8
LATENCY_CONNECTIONS = 16
THROUGHPUT_CONNECTIONS = 64
DRIFT_WARNING = 0.10
EXTRA_SCENARIOS = ("heavy_erase_alone", "heavy_erase", "map_steady", "map_beside_erase")

Key = tuple[str, int, int]


def load(path: Path) -> dict[str, Any]:
    try:
        summary: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise SystemExit(f"cannot read {path}: {error}") from None
    if "scenarios" not in summary or "data" not in summary:
        raise SystemExit(f"{path} is not a result of bench/run.py")
    return summary


def scenarios(summary: Mapping[str, Any]) -> dict[Key, dict[str, Any]]:
    rows = list(summary["scenarios"])
    rows += [summary["data"][name] for name in EXTRA_SCENARIOS if name in summary["data"]]
    return {(row["scenario"], row["workers"], row["connections"]): row for row in rows}


def cell(row: Mapping[str, Any]) -> str:
    return (f"{row['requests_per_second']:.0f}, "
            f"{row['p50_ms']:.0f}/{row['p95_ms']:.0f}/{row['p99_ms']:.0f}")  # fmt: skip


def rows_label(summary: Mapping[str, Any]) -> str:
    return f"{summary['data']['rows']:,} rows"


def table(small: Mapping[str, Any], large: Mapping[str, Any]) -> Iterator[str]:
    a, b = scenarios(small), scenarios(large)
    yield (f"| scenario | workers | conns | {rows_label(small)}: req/s, p50/p95/p99 ms "
           f"| {rows_label(large)}: req/s, p50/p95/p99 ms | p99 ratio |")  # fmt: skip
    yield "|---|---|---|---|---|---|"
    for key in a:
        if key not in b:
            continue
        ratio = b[key]["p99_ms"] / a[key]["p99_ms"] if a[key]["p99_ms"] else float("inf")
        yield f"| {key[0]} | {key[1]} | {key[2]} | {cell(a[key])} | {cell(b[key])} | {ratio:.2f} |"


def checks(small: Mapping[str, Any], large: Mapping[str, Any]) -> dict[str, bool]:
    a, b = scenarios(small), scenarios(large)
    out: dict[str, bool] = {}
    for key, row in _plain(a):
        if key[2] == LATENCY_CONNECTIONS and key in b:
            ok = b[key]["p99_ms"] <= P99_RATIO_MAX * row["p99_ms"]
            out[f"{key[0]} ({key[1]} wk) p99 within {P99_RATIO_MAX:g}x"] = ok
    for workers in sorted({key[1] for key in a}):
        key = ("POST /map", workers, THROUGHPUT_CONNECTIONS)
        if key in a and key in b:
            ratio = b[key]["requests_per_second"] / a[key]["requests_per_second"]
            out[f"POST /map ({workers} wk) throughput {ratio:.2f}x >= "
                f"{THROUGHPUT_RATIO_MIN:g}x"] = ratio >= THROUGHPUT_RATIO_MIN  # fmt: skip
    return out


def machine_speed(small: Mapping[str, Any], large: Mapping[str, Any]) -> dict[int, float]:
    """Per worker count, the large run's `GET /heartbeat` throughput at 64 connections over the
    small run's. The heartbeat reads a check cached for 0.25 s, so this is the machine's speed
    in each run (other tenants, CPU clock), not the data's size."""
    a, b = scenarios(small), scenarios(large)
    out: dict[int, float] = {}
    for workers in sorted({key[1] for key in a}):
        key = ("GET /heartbeat", workers, THROUGHPUT_CONNECTIONS)
        if key in a and key in b and a[key]["requests_per_second"]:
            out[workers] = b[key]["requests_per_second"] / a[key]["requests_per_second"]
    return out


def drift_lines(small: Mapping[str, Any], large: Mapping[str, Any]) -> Iterator[str]:
    speed = machine_speed(small, large)
    if not speed:
        return
    a, b = scenarios(small), scenarios(large)
    yield ("- machine speed in the large run against the small one, from GET /heartbeat at "
           f"{THROUGHPUT_CONNECTIONS} connections (no query per request): "
           + ", ".join(f"{ratio:.2f}x ({workers} wk)" for workers, ratio in speed.items()))
    for workers, ratio in speed.items():
        key = ("POST /map", workers, THROUGHPUT_CONNECTIONS)
        if key in a and key in b and a[key]["requests_per_second"]:
            raw = b[key]["requests_per_second"] / a[key]["requests_per_second"]
            yield (f"  - POST /map ({workers} wk) throughput {raw:.2f}x, or {raw / ratio:.2f}x "
                   "of what the heartbeat's ratio leaves (for reading only: the checks use "
                   "the raw ratio)")
    if any(abs(ratio - 1) > DRIFT_WARNING for ratio in speed.values()):
        between = ("the two sizes' steps, although they alternated" if together(small, large)
                   else "the runs")
        yield (f"  - the machine's speed moved by more than {DRIFT_WARNING:.0%} between "
               f"{between}: every ratio above carries that drift; rerun the pair on a quieter "
               "machine")


def _plain(rows: Mapping[Key, Any]) -> Iterator[tuple[Key, Any]]:
    """The closed-loop scenarios (the steady-rate ones are judged by bench/run.py)."""
    return ((key, row) for key, row in rows.items() if "steady" not in key[0]
            and "beside" not in key[0] and "heavy" not in key[0])  # fmt: skip


def facts(summary: Mapping[str, Any]) -> str:
    data = summary["data"]
    month, export = data["maintain_month"], data["export"]
    return (f"{rows_label(summary)}: seeded in {data['seed_seconds']:.0f} s, database "
            f"{data['size_mb_seeded']:.0f} MB; `maintain` with nothing to drop "
            f"{data['maintain_seconds']:.2f} s; dropping a month ({month['rows']:,} events) "
            f"{month['maintain_seconds']:.2f} s, longest insert beside it "
            f"{month['writer_max_ms_during']:.0f} ms ({month['writer_max_ms_before']:.0f} ms "
            f"before); export of {summary['settings']['export_events']:,} events "
            f"{export['export_bytes_mb']:.1f} MB in {export['export_seconds']:.1f} s, worker RSS "
            f"+{export['rss_growth_mb']:.1f} MB; pgbench {summary['pgbench']['tps']:.0f} tps; "
            f"{summary['machine']['note']}")  # fmt: skip


def together(small: Mapping[str, Any], large: Mapping[str, Any]) -> bool:
    """Whether the two results come from one run of `bench/run.py --rows SMALL,LARGE`."""
    run = small.get("run")
    return bool(run) and run == large.get("run") and len(run["rows"]) > 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("small", type=Path, help="the result at the smaller --rows")
    parser.add_argument("large", type=Path, help="the result at the larger --rows")
    args = parser.parse_args(argv)
    try:
        small, large = load(args.small), load(args.large)
    except SystemExit as error:
        print(error, file=sys.stderr)
        return 2
    if small["data"]["rows"] >= large["data"]["rows"]:
        print("the first result must be the smaller --rows", file=sys.stderr)
        return 2
    for setting in ("rounds", "duration", "workers"):
        if small["settings"].get(setting) != large["settings"].get(setting):
            print(f"the two results ran with different --{setting} "
                  f"({small['settings'].get(setting)} and {large['settings'].get(setting)}): "
                  "their figures are not comparable", file=sys.stderr)
            return 2
    if together(small, large):
        print("(measured in one run: each scenario's round ran on both sizes in turn, so the "
              "machine's speed was nearly the same for both)\n")
    rounds = small["settings"].get("rounds") or 1
    if rounds > 1:
        print(f"(each closed-loop figure: the median of {rounds} interleaved rounds of "
              f"{small['settings']['duration']:g} s)\n")
    for line in table(small, large):
        print(line)
    print()
    for summary in (small, large):
        print(f"- {facts(summary)}")
    results = checks(small, large)
    print()
    for name, ok in results.items():
        print(f"- {name}: {'met' if ok else 'MISSED'}")
    for line in drift_lines(small, large):
        print(line)
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
