"""bench/compare.py: two results side by side, and the checks between the two sizes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import compare


def scenario(name: str, workers: int, connections: int, rps: float, p99: float) -> dict[str, Any]:
    return {"scenario": name, "workers": workers, "connections": connections,
            "requests_per_second": rps, "p50_ms": p99 / 4, "p95_ms": p99 / 2,
            "p99_ms": p99}  # fmt: skip


def result(
    rows: int, map_rps: float, map_p99: float, heavy_p99: float, heartbeat_rps: float = 9000.0
) -> dict[str, Any]:
    return {
        "settings": {"export_events": 100_000},
        "machine": {"note": "2 CPUs"},
        "pgbench": {"tps": 4000.0},
        "scenarios": [
            scenario("POST /map", 2, 64, map_rps, 40.0),
            scenario("POST /map", 2, 16, map_rps, map_p99),
            scenario("GET /heartbeat", 2, 64, heartbeat_rps, 12.0),
        ],
        "data": {
            "rows": rows, "seed_seconds": 1.0, "size_mb_seeded": 100.0, "maintain_seconds": 1.0,
            "maintain_month": {"rows": 10, "maintain_seconds": 1.0, "writer_max_ms_during": 9.0,
                               "writer_max_ms_before": 5.0},
            "export": {"export_bytes_mb": 14.3, "export_seconds": 2.0, "rss_growth_mb": 5.0},
            "heavy_erase_alone": scenario("DELETE /me heavy user, alone", 2, 4, 200, heavy_p99),
        },
    }  # fmt: skip


def write(tmp_path: Path, name: str, summary: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(summary))
    return path


def test_sizes_side_by_side_with_their_ratio(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = write(tmp_path, "a.json", result(10_000, 2000, 30.0, 40.0))
    large = write(tmp_path, "b.json", result(10_000_000, 1700, 42.0, 90.0))
    assert compare.main([str(small), str(large)]) == 0
    out = capsys.readouterr().out
    assert "| POST /map | 2 | 16 | 2000, 8/15/30 | 1700, 10/21/42 | 1.40 |" in out
    # The heavy erasure is shown, but judged by bench/run.py against its own target.
    assert "| DELETE /me heavy user, alone | 2 | 4 |" in out and "alone) p99" not in out
    assert "POST /map (2 wk) p99 within 1.5x: met" in out
    assert "POST /map (2 wk) throughput 0.85x >= 0.8x: met" in out
    assert "10,000,000 rows: seeded in 1 s" in out


@pytest.mark.parametrize(("p99", "rps", "missed"), [
    (46.0, 2000, "POST /map (2 wk) p99 within 1.5x: MISSED"),
    (30.0, 1500, "POST /map (2 wk) throughput 0.75x >= 0.8x: MISSED"),
])  # fmt: skip
def test_a_missed_check_fails_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], p99: float, rps: float, missed: str
) -> None:
    small = write(tmp_path, "a.json", result(10_000, 2000, 30.0, 40.0))
    large = write(tmp_path, "b.json", result(10_000_000, rps, p99, 40.0))
    assert compare.main([str(small), str(large)]) == 1
    assert missed in capsys.readouterr().out


def test_unreadable_or_swapped_inputs_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = write(tmp_path, "a.json", result(10_000, 2000, 30.0, 40.0))
    large = write(tmp_path, "b.json", result(10_000_000, 2000, 30.0, 40.0))
    assert compare.main([str(large), str(small)]) == 2
    assert "must be the smaller --rows" in capsys.readouterr().err
    assert compare.main([str(tmp_path / "missing.json"), str(large)]) == 2
    assert "cannot read" in capsys.readouterr().err
    write(tmp_path, "other.json", {"not": "a result"})
    assert compare.main([str(tmp_path / "other.json"), str(large)]) == 2
    assert "is not a result of bench/run.py" in capsys.readouterr().err


def test_results_of_different_rounds_are_not_compared(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    three = result(10_000, 2000, 30.0, 40.0)
    three["settings"]["rounds"] = 3
    small = write(tmp_path, "a.json", three)
    large = write(tmp_path, "b.json", result(10_000_000, 2000, 30.0, 40.0))
    assert compare.main([str(small), str(large)]) == 2
    assert "different --rounds (3 and None)" in capsys.readouterr().err


def test_the_machines_speed_in_each_run_is_read_from_the_heartbeat(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = write(tmp_path, "a.json", result(10_000, 2000, 30.0, 40.0, heartbeat_rps=10_000))
    steady = write(tmp_path, "b.json", result(10_000_000, 1700, 30.0, 40.0, heartbeat_rps=9_600))
    assert compare.main([str(small), str(steady)]) == 0
    out = capsys.readouterr().out
    assert "(no query per request): 0.96x (2 wk)" in out
    assert "POST /map (2 wk) throughput 0.85x, or 0.89x of what the heartbeat's ratio" in out
    assert "rerun the pair" not in out

    slower = write(tmp_path, "c.json", result(10_000_000, 1500, 30.0, 40.0, heartbeat_rps=7_500))
    # The checks stay on the raw figures: a slower machine is reported, never subtracted.
    assert compare.main([str(small), str(slower)]) == 1
    out = capsys.readouterr().out
    assert "POST /map (2 wk) throughput 0.75x >= 0.8x: MISSED" in out
    assert "0.75x (2 wk)" in out and "or 1.00x of what" in out
    assert "moved by more than 10% between the runs" in out


def test_sizes_measured_in_one_run_say_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = {"stamp": "20261204T040511Z", "rows": [10_000, 10_000_000]}
    small = write(tmp_path, "a.json", {**result(10_000, 2000, 30.0, 40.0, 10_000), "run": run})
    large = write(tmp_path, "b.json",
                  {**result(10_000_000, 1700, 30.0, 40.0, 8_000), "run": run})
    assert compare.main([str(small), str(large)]) == 0
    out = capsys.readouterr().out
    assert "(measured in one run: each scenario's round ran on both sizes in turn" in out
    assert "between the two sizes' steps, although they alternated" in out

    # Two runs of one size each (each names only its own size) were not measured together.
    alone = write(tmp_path, "c.json", {**result(10_000_000, 1700, 30.0, 40.0, 10_000),
                                       "run": {"stamp": "20261204T050000Z",
                                               "rows": [10_000_000]}})
    assert compare.main([str(small), str(alone)]) == 0
    assert "measured in one run" not in capsys.readouterr().out
