"""Benchmark of the request path: `python bench/run.py` (or `make bench`) from the repository root.

Starts a throwaway PostgreSQL cluster, durable by default (fsync, synchronous commit and
full-page writes on, as RDS and Cloud SQL run; `--no-fsync` turns them off and every figure is
labelled so), migrates it with `python -m service migrate`, seeds `--rows N` map rows and 2N
events in SQL (tests/support/seed.py), serves the API with `python -m service serve` (request
logs on) once per `--workers` count (default 1 and the production count, 2), seeds practices
through `PUT /practices/{id}` with an admin token from `python -m service token`, and drives
closed-loop load with wrk (or the raw-socket fallback in bench/loadgen.py):

- throughput at 64 connections and latency percentiles at 16 connections,
  for authenticated `POST /map` (distinct users and practices, every write newer than the
  last, so each one really updates its row) and for `GET /heartbeat`;
- at 16 connections (bench/loadgen.py): `GET /map`, `GET /practices`, `POST /events` (batches
  of 10), `GET /me/export` and `DELETE /me` (each request erases another seeded user);
- the worker's peak resident memory under that load (kernel high-water mark, VmHWM);
- pgbench at 64 connections running the service's own upsert statement (compiled from
  service.queries), with the service stopped, and the ratio of the two;
- bench/scale.py: `DELETE /me` of users with 1,000 events and 50 practice states, alone and
  while `POST /map` runs beside it at a steady rate (measured without them too), the worker's
  memory growth over one export of 100,000 events,
  the database size, how long `maintain` takes, and `maintain` dropping a month of events
  while a writer inserts back to back (the longest insert is the lock time writers see).

`--rows 10000,10000000` measures several sizes in one run, each in its own cluster with its
own service, every scenario's round on each size in turn (docs/bench.md, "Two sizes in one
run"), and prints bench/compare.py's table at the end.

Not a test: figures depend on the machine. Results are printed and written as JSON to
bench/results/ (git-ignored), one file per size.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import functools
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from bench import compare, scale  # noqa: E402
from components.postgres_settings import SERVER_SETTINGS  # noqa: E402
from tests.support.postgres import (  # noqa: E402
    PostgresCluster,
    destroy_cluster,
    free_port,
    start_cluster,
)

PRODUCTION_WORKERS = 2  # components/aws/task_containers.py, Pulumi.prod.yaml
ERASURES = 6000  # DELETE /me per round: about 10 s of one worker, like the other rounds
SCALE_SCENARIOS = [
    ("GET /map", "map-read"),
    ("GET /practices", "practices"),
    ("POST /events", "events"),
    ("GET /me/export", "export"),
    ("DELETE /me", "erase"),
]

LUA_SCRIPT = ROOT / "bench" / "load.lua"
RESULTS_DIR = ROOT / "bench" / "results"
DATABASE_NAME = "bench"

TARGETS = {
    "ratio_min": 0.25,
    "map_p99_ms_max": 20.0,
    "heartbeat_p99_ms_max": 10.0,
    "peak_rss_mb_max": 150.0,
    "erase_p99_ms_max": 50.0,
    "export_growth_mb_max": 20.0,
    "maintain_lock_ms_max": 1000.0,
}


@dataclass
class LoadResult:
    scenario: str
    workers: int
    connections: int
    requests: int
    seconds: float
    errors: int
    not_applied: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    server_cpu_percent: float
    load_before: float
    load_after: float
    writes_per_statement: float | None = None
    statements: float = 0.0  # map-write statements and writes during the run (POST /map only)
    writes: float = 0.0
    wal_bytes: float = 0.0  # WAL the cluster wrote during the run (everything in it)
    checkpoints: int = 0  # checkpoints begun during the run
    # With several --rows: the CHECKPOINT after the step, so its writes land in no one's run.
    checkpoint_after_seconds: float = 0.0
    rounds: list[dict[str, Any]] | None = None

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def wal_kb_per_request(self) -> float:
        return self.wal_bytes / self.requests / 1024 if self.requests else 0.0

    @property
    def requests_per_cpu_second(self) -> float:
        """Throughput per second of server CPU: steadier than req/s on a shared machine."""
        busy = self.server_cpu_percent / 100
        return self.requests_per_second / busy if busy else 0.0


# --- the service process --------------------------------------------------------------------


def service_env(
    database_url: str, workdir: Path, pool_size: int | None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A clean environment: nothing from the caller's AUTH_*/DB_*/STORAGE_* leaks in."""
    dropped = ("AUTH_", "DB_", "DATABASE_URL", "STORAGE_URL", "ENVIRONMENT", "TEST_DATABASE_URL",
               "RATE_LIMIT_", "DATA_DIR", "AWS_ENDPOINT_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env.update(
        ENVIRONMENT="local",
        DATABASE_URL=database_url,
        DATA_DIR=str(workdir / "data"),
        LOG_LEVEL="info",
        # Every request comes from one address: per-caller limits would throttle the load
        # generator itself. The limiter still runs, with limits the bench cannot reach.
        RATE_LIMIT_PER_SECOND="1000000000",
        RATE_LIMIT_BURST="1000000000",
        PYTHONDONTWRITEBYTECODE="1",
    )
    if pool_size:
        env["DB_POOL_SIZE"] = str(pool_size)
    env.update(extra or {})
    return env


def setting(text: str) -> tuple[str, str]:
    """`NAME=VALUE` from the command line (argparse type)."""
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def run_cli(env: Mapping[str, str], *args: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-m", "service", *args],
        cwd=ROOT, env=dict(env), capture_output=True, text=True, timeout=120,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"python -m service {' '.join(args)} failed:\n{completed.stderr}")
    return completed.stdout


@contextmanager
def serving(
    env: Mapping[str, str], port: int, log_path: Path, workers: int, profile: Path | None = None
) -> Iterator[psutil.Process]:
    serve = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    command = [sys.executable, "-m", "service", *serve]
    if profile:
        # uvicorn re-raises SIGTERM after its shutdown; turn it into SystemExit so cProfile
        # gets to write its stats.
        command = [sys.executable, "-c", (
            "import cProfile, signal, sys\n"
            "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
            f"sys.argv = ['service', *{serve!r}]\n"
            "from service.__main__ import main\n"
            f"cProfile.run('main()', {str(profile)!r})\n"
        )]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT, env=dict(env), stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            wait_until_healthy(port, process)
            yield psutil.Process(process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the service exited with {process.returncode} while starting")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/heartbeat", timeout=2) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError("the service did not answer /heartbeat within 60 s")


def call(method: str, url: str, token: str, body: Mapping[str, Any]) -> Any:
    request = urllib.request.Request(
        url, method=method, data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.loads(reply.read())


def seed_practices(base_url: str, admin_token: str, count: int) -> None:
    for n in range(1, count + 1):
        call("PUT", f"{base_url}/practices/bench-practice-{n}", admin_token, {
            "title": f"Bench practice {n}",
            "description": "Seeded by bench/run.py",
            "durationSeconds": 600,
            "category": "breathing",
            "published": True,
        })


def write_users_file(
    path: Path, data_dir: Path, count: int, prefix: str = "bench-user-", first: int = 1
) -> None:
    from service.auth import mint_local_token

    lines = [
        f"{prefix}{n} {mint_local_token(f'{prefix}{n}', False, 7200, data_dir)}"
        for n in range(first, first + count)
    ]
    path.write_text("\n".join(lines) + "\n")


class PeakMemory:
    """Samples the RSS of the server and any worker children; VmHWM gives the exact peak."""

    def __init__(self, process: psutil.Process, interval: float = 0.05) -> None:
        self._process = process
        self._interval = interval
        self._stop = threading.Event()
        self.sampled_peak: dict[int, int] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def workers(self) -> list[psutil.Process]:
        children = self._process.children(recursive=True)
        return children or [self._process]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for worker in self.workers():
                    rss = worker.memory_info().rss
                    self.sampled_peak[worker.pid] = max(self.sampled_peak.get(worker.pid, 0), rss)
            except psutil.Error:
                pass
            self._stop.wait(self._interval)

    def high_water_marks(self) -> dict[int, int]:
        marks: dict[int, int] = {}
        for worker in self.workers():
            status = Path(f"/proc/{worker.pid}/status")
            if status.exists():
                match = re.search(r"VmHWM:\s+(\d+) kB", status.read_text())
                if match:
                    marks[worker.pid] = int(match.group(1)) * 1024
        return marks


# --- load generation ------------------------------------------------------------------------


def find_wrk(allow_install: bool) -> str | None:
    found = shutil.which("wrk")
    if found or not allow_install:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk not found; installing it with apt-get (use --no-install to skip)", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], capture_output=True,
                       timeout=300, check=False)
    return shutil.which("wrk")


def server_cpu_seconds(server: psutil.Process) -> float:
    """User + system CPU of the server and its worker processes so far."""
    total = 0.0
    for process in [server, *server.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def describe_client(wrk: str | None) -> str:
    if not wrk:
        return "bench/loadgen.py (raw asyncio sockets)"
    banner = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
    version = (banner.stdout or banner.stderr).split()
    return f"wrk {version[1]}" if len(version) > 1 else "wrk"


def run_load(
    *, wrk: str | None, port: int, mode: str, connections: int, duration: float,
    users_file: Path, practices: int, threads: int, server: psutil.Process,
    max_requests: int | None = None, rate: float | None = None,
) -> dict[str, float]:
    env = dict(os.environ)
    env.update(
        BENCH_MODE=mode,
        BENCH_USERS_FILE=str(users_file),
        BENCH_PRACTICES=str(practices),
        BENCH_START_US=str(int(time.time() * 1_000_000)),
        BENCH_THREADS=str(threads),
    )
    if wrk and mode in ("map", "heartbeat") and rate is None:
        command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s",
                   "--timeout", "5s", "-s", str(LUA_SCRIPT), f"http://127.0.0.1:{port}"]
    else:
        command = [sys.executable, str(ROOT / "bench" / "loadgen.py"), "--port", str(port),
                   "--mode", mode, "--connections", str(connections), "--duration",
                   str(duration), "--users-file", str(users_file), "--practices", str(practices)]
        if max_requests is not None:
            command += ["--max-requests", str(max_requests)]
        if rate is not None:
            command += ["--rate", str(rate)]
    cpu_before = server_cpu_seconds(server)
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    completed = subprocess.run(command, env=env, capture_output=True, text=True,
                               timeout=duration + 60)
    wall = time.monotonic() - started
    cpu_used = server_cpu_seconds(server) - cpu_before
    load_after = os.getloadavg()[0]
    for line in completed.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            result: dict[str, float] = json.loads(line.removeprefix("BENCH_RESULT "))
            result["server_cpu_percent"] = 100.0 * cpu_used / wall if wall else 0.0
            result["load_before"], result["load_after"] = load_before, load_after
            return result
    raise RuntimeError(f"load generator gave no result:\n{completed.stdout}\n{completed.stderr}")


def write_batch_totals(port: int) -> tuple[float, float]:
    """(statements, writes) so far, from the service's `awaterra_db_write_batch_rows`."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    totals = {"count": 0.0, "sum": 0.0}
    for line in text.splitlines():
        for kind in totals:
            if line.startswith(f"awaterra_db_write_batch_rows_{kind} "):
                totals[kind] = float(line.split()[1])
    return totals["count"], totals["sum"]


def to_result(
    scenario: str, workers: int, connections: int, raw: Mapping[str, float]
) -> LoadResult:
    errors = sum(int(raw[k]) for k in ("connect_errors", "read_errors", "write_errors",
                                       "timeouts", "not_ok"))
    return LoadResult(
        scenario=scenario,
        workers=workers,
        connections=connections,
        requests=int(raw["requests"]),
        seconds=raw["duration_us"] / 1_000_000,
        errors=errors,
        not_applied=int(raw["not_applied"]),
        p50_ms=raw["p50_us"] / 1000,
        p95_ms=raw["p95_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        server_cpu_percent=raw["server_cpu_percent"],
        load_before=raw["load_before"],
        load_after=raw["load_after"],
    )


def round_label(round_: int, rounds: int) -> str:
    return f" (round {round_ + 1} of {rounds})" if rounds > 1 else ""


def combine(runs: list[LoadResult]) -> LoadResult:
    """One scenario's rounds as one result: latencies and CPU are the medians over the rounds,
    throughput is all requests over all seconds, errors add up, max is the largest. The rounds
    themselves are kept (`rounds` in the JSON)."""
    first = runs[0]
    statements = sum(r.statements for r in runs)
    combined = LoadResult(
        scenario=first.scenario,
        workers=first.workers,
        connections=first.connections,
        requests=sum(r.requests for r in runs),
        seconds=sum(r.seconds for r in runs),
        errors=sum(r.errors for r in runs),
        not_applied=sum(r.not_applied for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p95_ms=statistics.median(r.p95_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
        max_ms=max(r.max_ms for r in runs),
        server_cpu_percent=statistics.median(r.server_cpu_percent for r in runs),
        load_before=first.load_before,
        load_after=runs[-1].load_after,
        writes_per_statement=(
            sum(r.writes for r in runs) / statements if statements else None),
        wal_bytes=sum(r.wal_bytes for r in runs),
        checkpoints=sum(r.checkpoints for r in runs),
        checkpoint_after_seconds=sum(r.checkpoint_after_seconds for r in runs),
    )
    if len(runs) > 1:
        combined.rounds = [_as_dict(r) for r in runs]
    return combined


# --- pgbench --------------------------------------------------------------------------------


def pgbench_script(users: int, practices: int) -> str:
    """The service's own upsert, with pgbench variables in place of the bound values."""
    from sqlalchemy.dialects import postgresql

    from service.queries import build_queries

    sql = str(build_queries("postgresql").upsert_state.compile(dialect=postgresql.dialect()))
    replacements = {
        "user_id": "('bench-user-'::text || :user)",
        "practice_id": "('bench-practice-'::text || :practice)",
        "status": "'in_progress'",
        "progress": "0.5",
        "state": "'{\"step\": 1}'",
        "updated_at": "clock_timestamp()",
        "server_updated_at": "now()",
    }
    for name, expression in replacements.items():
        placeholder = f"%({name})s"
        if placeholder not in sql:
            raise RuntimeError(f"the upsert no longer binds {name}; update bench/run.py")
        sql = sql.replace(placeholder, expression)
    if "%(" in sql:
        raise RuntimeError(f"unmapped parameter in the upsert: {sql}")
    return (f"\\set user random(1, {users})\n\\set practice random(1, {practices})\n"
            f"{sql};\n")


def run_pgbench(
    cluster: PostgresCluster, script: Path, connections: int, duration: float
) -> dict[str, float]:
    pgbench = cluster.bindir / "pgbench"
    completed = subprocess.run(
        [str(pgbench), "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", "-n",
         "-M", "prepared", "-c", str(connections), "-j", str(min(connections, os.cpu_count() or 2)),
         "-T", str(max(1, round(duration))), "-f", str(script), DATABASE_NAME],
        capture_output=True, text=True, timeout=duration + 120,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"pgbench failed:\n{completed.stderr}")
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", completed.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", completed.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", completed.stdout)
    if not tps:
        raise RuntimeError(f"could not read pgbench's output:\n{completed.stdout}")
    return {
        "tps": float(tps.group(1)),
        "latency_average_ms": float(latency.group(1)) if latency else float("nan"),
        "failed": float(failed.group(1)) if failed else 0.0,
    }


# --- the run --------------------------------------------------------------------------------


def worker_counts(text: str) -> list[int]:
    """`--workers 1,2` (argparse type)."""
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected counts like 1,2, got {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"worker counts must be at least 1, got {text!r}")
    return counts


def row_counts(text: str) -> list[int]:
    """`--rows 10000` or `--rows 10000,10000000` (argparse type): distinct sizes, smallest
    first."""
    try:
        sizes = sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 10000,10000000, got {text!r}"
                                         ) from None
    if not sizes:
        raise argparse.ArgumentTypeError(f"expected at least one size, got {text!r}")
    return sizes


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per scenario")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up load")
    parser.add_argument("--rows", type=row_counts, default=[10_000],
                        help="map rows seeded in SQL before measuring (and twice as many "
                             "events); several, e.g. 10000,10000000, are measured in one run, "
                             "each in its own cluster, round by round side by side")
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--practices", type=int, default=50)
    parser.add_argument("--heavy-users", type=int, default=400,
                        help="users with 1,000 events and 50 states each erased by DELETE /me in "
                             "each round (half alone, half beside steady writes)")
    parser.add_argument("--steady-rate", type=float, default=300.0,
                        help="POST /map per second (open loop) beside the erasures")
    parser.add_argument("--export-events", type=int, default=scale.EXPORT_EVENTS,
                        help="events of the user whose export's memory is measured")
    parser.add_argument("--no-fsync", action="store_true",
                        help="UNSAFE, labelled in the output: PostgreSQL without fsync, "
                             "synchronous commit or full-page writes")
    parser.add_argument("--pg-option", type=setting, action="append", default=[],
                        metavar="NAME=VALUE",
                        help="a PostgreSQL setting over the stacks' own "
                             "(components/postgres_settings.py), e.g. wal_compression=off "
                             "(repeatable)")
    parser.add_argument("--erasures", type=int, default=ERASURES,
                        help="users DELETE /me erases in each round (seeded just before it, "
                             "shaped like the seed's users, the same number at every --rows; "
                             "the default lasts about as long as the other scenarios' rounds)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run the closed-loop scenarios this many times, interleaved, and "
                             "report the median of each latency (docs/bench.md)")
    parser.add_argument("--throughput-connections", type=int, default=64)
    parser.add_argument("--latency-connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--no-install", action="store_true", help="never apt-get install wrk")
    parser.add_argument("--skip-pgbench", action="store_true")
    parser.add_argument("--env", type=setting, action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for the service, e.g. --env DB_WRITE_BATCH_SIZE=1 "
                             "(repeatable)")
    parser.add_argument("--keep-log", action="store_true",
                        help="keep the service's log (kept anyway when a target is missed)")
    parser.add_argument("--workers", type=worker_counts, default=[1, PRODUCTION_WORKERS],
                        help=f"uvicorn worker counts to measure, e.g. 1,{PRODUCTION_WORKERS} "
                             f"(default: 1 and the production count, {PRODUCTION_WORKERS})")
    parser.add_argument("--pool-size", type=int, help="DB_POOL_SIZE for the service "
                        "(default: the service's own default)")
    parser.add_argument("--profile", type=Path, metavar="FILE",
                        help="run the server under cProfile, write the stats to FILE and print "
                             "the top functions (slows the server: figures are not comparable)")
    args = parser.parse_args(argv)
    if min(args.rows) < 100:
        parser.error("--rows must be at least 100")
    if args.profile and len(args.rows) > 1:
        parser.error("--profile measures one --rows at a time")
    if args.heavy_users < 2:
        parser.error("--heavy-users must be at least 2")
    if args.steady_rate <= 0:
        parser.error("--steady-rate must be positive")
    if args.erasures < 1:
        parser.error("--erasures must be at least 1")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


@dataclass
class Population:
    """Seeded users the scenarios read and erase, each with a token file."""

    readers: Path
    heavy_alone: list[Path]  # per round: erased with nothing beside them
    heavy_beside: list[Path]  # per round: erased beside steady writes
    export_token: str


def populations(workdir: Path, seeded: Any, heavy: int, rounds: int) -> Population:
    """Token files for the readers, and for each round its own `heavy` heavy users (of the
    `heavy * rounds` seeded), half erased alone and half beside steady writes."""
    from service.auth import mint_local_token

    data_dir = workdir / "data"
    readers = workdir / "readers.txt"
    write_users_file(readers, data_dir, max(1, min(seeded.users, 2000)), "seed-user-")
    alone: list[Path] = []
    beside: list[Path] = []
    for round_ in range(rounds):
        first = round_ * heavy + 1
        alone.append(workdir / f"heavy-alone-{round_}.txt")
        beside.append(workdir / f"heavy-beside-{round_}.txt")
        write_users_file(alone[-1], data_dir, heavy // 2, "heavy-user-", first)
        write_users_file(beside[-1], data_dir, heavy - heavy // 2, "heavy-user-",
                         first + heavy // 2)
    export_token = mint_local_token("export-user", False, 7200, data_dir)
    return Population(readers, alone, beside, export_token)


@dataclass
class Site:
    """One `--rows` size: its own cluster and workdir (signing key, token files, service log),
    what the service is given, and what was measured on it. With several sizes each is a Site,
    measured step by step beside the others."""

    rows: int
    workdir: Path
    cluster: PostgresCluster
    tag: str  # "" for a single size; "10,000 rows: " in the progress lines of several
    data: dict[str, Any] = field(default_factory=dict)
    results: list[LoadResult] = field(default_factory=list)
    peak_rss: dict[int, int] = field(default_factory=dict)
    pgbench: dict[str, float] | None = None
    # Set by prepare_site:
    database_url: str = field(init=False)
    env: dict[str, str] = field(init=False)
    admin_token: str = field(init=False)
    writers: Path = field(init=False)  # the users file of POST /map
    people: Population = field(init=False)
    # Set while one worker count is served (measure):
    port: int = field(init=False)
    server: psutil.Process = field(init=False)
    load: Any = field(init=False)


def prepare_site(site: Site, args: argparse.Namespace) -> None:
    """Migrate, seed `site.rows` map rows (2N events) and the heavy users in SQL, time
    `maintain`, and mint the tokens every scenario uses."""
    site.database_url = site.cluster.create_database(DATABASE_NAME)
    site.env = service_env(site.database_url, site.workdir, args.pool_size, dict(args.env))
    run_cli(site.env, "migrate")
    print(f"bench: {site.tag}seeding {site.rows} map rows and {2 * site.rows} events in SQL",
          flush=True)
    seeded, seed_seconds = scale.seed_rows(site.database_url, site.workdir, site.rows)
    scale.seed_heavy_users(site.database_url, args.heavy_users * args.rounds, args.export_events)
    site.data.update(seed_seconds=seed_seconds,
                     size_mb_seeded=scale.database_size_mb(site.database_url))
    site.data["maintain_seconds"], _ = scale.time_maintain(site.env)
    site.admin_token = run_cli(site.env, "token", "bench-admin", "--admin", "--ttl",
                               "7200").strip()
    site.writers = site.workdir / "users.txt"
    write_users_file(site.writers, site.workdir / "data", args.users)
    site.people = populations(site.workdir, seeded, args.heavy_users, args.rounds)


def closed_loop_plan(
    args: argparse.Namespace, people: Population, writers: Path, erasers: Path
) -> list[tuple[str, str, int, Path, int | None]]:
    """(label, load generator mode, connections, users file, request limit) of each
    closed-loop scenario, in the order they run."""
    return [
        ("POST /map", "map", args.throughput_connections, writers, None),
        ("GET /heartbeat", "heartbeat", args.throughput_connections, writers, None),
        ("POST /map", "map", args.latency_connections, writers, None),
        ("GET /heartbeat", "heartbeat", args.latency_connections, writers, None),
        *((label, mode, args.latency_connections,
           erasers if mode == "erase" else people.readers,
           args.erasures if mode == "erase" else None)
          for label, mode in SCALE_SCENARIOS),
    ]


def closed_loop_rounds(sites: list[Site], args: argparse.Namespace, workers: int) -> None:
    """Every closed-loop scenario `--rounds` times, round after round, combined per scenario
    into each site's results. Rounds interleave: a passing disturbance lands in one round of
    one scenario, and the median over the rounds leaves it out.

    With several sites, each scenario's round runs on every site in turn before the next
    scenario (the order reversed every other round), so the machine's speed, which drifts by
    tens of percent over minutes here, is nearly the same for both sizes of a comparison. After
    its step a site is checkpointed, so no cluster's checkpoint writes land in another's
    measurement."""
    runs: list[dict[tuple[str, int], list[LoadResult]]] = [{} for _ in sites]
    for round_ in range(args.rounds):
        order = list(enumerate(sites))
        if round_ % 2:
            order.reverse()
        plans = {
            index: closed_loop_plan(args, site.people, site.writers,
                                    site.workdir / f"erasers-{workers}-{round_}.txt")
            for index, site in order
        }
        for step in range(len(plans[0])):
            for index, site in order:
                label, mode, connections, who, limit = plans[index][step]
                result = closed_loop_step(site, args, workers, round_, label, mode,
                                          connections, who, limit)
                if len(sites) > 1:
                    started = time.perf_counter()
                    scale.checkpoint(site.database_url)
                    result.checkpoint_after_seconds = time.perf_counter() - started
                runs[index].setdefault((label, connections), []).append(result)
    for site, by_scenario in zip(sites, runs, strict=True):
        site.results.extend(combine(each) for each in by_scenario.values())


def closed_loop_step(
    site: Site, args: argparse.Namespace, workers: int, round_: int, label: str, mode: str,
    connections: int, who: Path, limit: int | None,
) -> LoadResult:
    """One round of one closed-loop scenario on one site, with the WAL and checkpoints of
    its cluster meanwhile (and, for POST /map, the statements the writes took)."""
    if mode == "erase":
        prefix = f"erase-{workers}w-{round_}-"
        scale.seed_erasable_users(site.database_url, prefix, args.erasures)
        scale.settle(site.database_url)
        write_users_file(who, site.workdir / "data", args.erasures, prefix)
    print(f"bench: {site.tag}{workers} worker(s): {label} at {connections} "
          f"connections{round_label(round_, args.rounds)}", flush=True)
    statements, writes = write_batch_totals(site.port)
    wal, checkpoints = (scale.wal_position(site.database_url),
                        scale.checkpoints_begun(site.database_url))
    raw = site.load(mode=mode, connections=connections, duration=args.duration,
                    users_file=who, max_requests=limit)
    result = to_result(label, workers, connections, raw)
    result.wal_bytes = scale.wal_position(site.database_url) - wal
    result.checkpoints = scale.checkpoints_begun(site.database_url) - checkpoints
    if mode == "map":
        more_statements, more_writes = write_batch_totals(site.port)
        result.statements = more_statements - statements
        result.writes = more_writes - writes
    elif mode == "erase":
        scale.vacuum(site.database_url)
    return result


def measure(sites: list[Site], args: argparse.Namespace, wrk: str | None, workers: int) -> None:
    """Serve every site with `workers` workers at once (only the measured one has load), run
    the closed-loop rounds, and with the largest count the heavy erasures and the export."""
    with contextlib.ExitStack() as services:
        for site in sites:
            site.port = free_port()
            site.server = services.enter_context(serving(
                site.env, site.port, site.workdir / f"service-{workers}.log", workers,
                args.profile))
            seed_practices(f"http://127.0.0.1:{site.port}", site.admin_token, args.practices)
            site.load = functools.partial(run_load, wrk=wrk, port=site.port,
                                          practices=args.practices, threads=args.wrk_threads,
                                          server=site.server)
        memories = [PeakMemory(site.server) for site in sites]
        with contextlib.ExitStack() as sampling:
            for memory in memories:
                sampling.enter_context(memory)
            for site in sites:
                print(f"bench: {site.tag}{workers} worker(s): warming up", flush=True)
                site.load(mode="map", connections=args.throughput_connections,
                          duration=args.warmup, users_file=site.writers)
            closed_loop_rounds(sites, args, workers)
            for site, memory in zip(sites, memories, strict=True):
                marks = memory.high_water_marks()
                for pid in set(marks) | set(memory.sampled_peak):
                    site.peak_rss[pid] = max(marks.get(pid, 0), memory.sampled_peak.get(pid, 0))
        if workers == max(args.workers):
            for site in sites:
                site.data.update(heavy_erasure(site, args, workers))
                print(f"bench: {site.tag}one export of the user with "
                      f"{args.export_events} events", flush=True)
                site.data["export"] = scale.export_memory_growth(site.server, site.port,
                                                                 site.people.export_token)


def finish_site(site: Site, args: argparse.Namespace) -> None:
    """With the service stopped: `maintain` dropping a month under writes, the database's
    size, and pgbench."""
    print(f"bench: {site.tag}maintain dropping a month of events under writes", flush=True)
    site.data["maintain_month"] = scale.maintain_drops_a_month(
        site.database_url, site.workdir, site.env, max(1000, 2 * site.rows // 13))
    site.data["size_mb_end"] = scale.database_size_mb(site.database_url)
    if not args.skip_pgbench:
        print(f"bench: {site.tag}pgbench at {args.throughput_connections} connections",
              flush=True)
        script = site.workdir / "upsert.sql"
        script.write_text(pgbench_script(args.users, args.practices))
        site.pgbench = run_pgbench(site.cluster, script, args.throughput_connections,
                                   args.duration)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk = None if args.client == "python" else find_wrk(not args.no_install)
    if args.client == "wrk" and not wrk:
        print("wrk is not installed", file=sys.stderr)
        return 2
    client = describe_client(wrk)
    durability = "fsync OFF (unsafe, not durable)" if args.no_fsync else "durable: fsync on"
    workdir = Path(tempfile.mkdtemp(prefix="awaterra-bench-"))
    print(f"bench: work directory {workdir}; load generator: {client}; PostgreSQL {durability}",
          flush=True)
    pg_settings = {**SERVER_SETTINGS, **dict(args.pg_option)}
    options = " ".join(f"-c {name}={value}" for name, value in pg_settings.items())
    several = len(args.rows) > 1
    sites: list[Site] = []
    try:
        for rows in args.rows:
            site_dir = workdir / f"rows-{rows}" if several else workdir
            site_dir.mkdir(exist_ok=True)
            cluster = start_cluster(durable=not args.no_fsync, options=options)
            sites.append(Site(rows, site_dir, cluster, f"{rows:,} rows: " if several else "",
                              data={"rows": rows, "durability": durability,
                                    "postgres_settings": pg_settings}))
        print("bench: timing fdatasync on the cluster's disk for 10 s", flush=True)
        disk_sync = scale.disk_sync_latency(sites[0].cluster.datadir.parent)
        for site in sites:
            site.data["disk_sync"] = disk_sync
            prepare_site(site, args)
        for workers in args.workers:
            measure(sites, args, wrk, workers)
        for site in sites:
            finish_site(site, args)
    finally:
        for site in sites:
            destroy_cluster(site.cluster)

    if args.profile:
        import pstats

        pstats.Stats(str(args.profile)).sort_stats("tottime").print_stats(30)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    RESULTS_DIR.mkdir(exist_ok=True)
    written: list[Path] = []
    all_met = True
    for site in sites:
        summary = report(site, args, client, stamp)
        out = RESULTS_DIR / (f"bench-{stamp}-rows{site.rows}.json" if several
                             else f"bench-{stamp}.json")
        out.write_text(json.dumps(summary, indent=2, default=str) + "\n")
        written.append(out)
        all_met = all_met and all(summary["targets"].values())
    for larger in written[1:]:
        print(f"\n{written[0].name} against {larger.name} (bench/compare.py):\n", flush=True)
        all_met = compare.main([str(written[0]), str(larger)]) == 0 and all_met
    # The service log (~100 MB of request lines) stays only when asked for or when something
    # failed; the bench's signing key and the tokens it signed never stay.
    for site in sites:
        shutil.rmtree(site.workdir / "data", ignore_errors=True)
    for tokens in workdir.rglob("*.txt"):
        tokens.unlink()
    names = ", ".join(str(out.relative_to(ROOT)) for out in written)
    if args.keep_log or not all_met:
        print(f"\nresults written to {names}; service log in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"\nresults written to {names}")
    return 0


def heavy_erasure(site: Site, args: argparse.Namespace, workers: int) -> dict[str, Any]:
    """DELETE /me of the heavy users, 4 at a time: first alone (what an erasure costs), then
    beside POST /map at a steady `--steady-rate` (open loop), measured also without the
    erasures: the difference is what erasures cost other users' writes. A closed loop beside
    them would only show that a saturated machine is slow for everyone. `--rounds` times, each
    round with its own users, combined as the closed-loop rounds are."""
    runs: dict[str, list[LoadResult]] = {}
    waits: list[dict[str, Any]] = []
    wal_bytes = erased = 0.0
    for round_ in range(args.rounds):
        figures, round_waits, round_wal = _heavy_erasure_round(site, args, workers, round_)
        for key, result in figures.items():
            runs.setdefault(key, []).append(result)
        waits.append(round_waits)
        wal_bytes += round_wal
        erased += figures["heavy_erase_alone"].requests
    return {
        **{key: combine(each) for key, each in runs.items()},
        "lock_waits_beside_erase": scale.merge_lock_waits(waits),
        # Nothing else writes meanwhile (autovacuum aside): this is the WAL of the erasures.
        "heavy_erase_wal_kb": wal_bytes / max(1.0, erased) / 1024,
    }


def _heavy_erasure_round(
    site: Site, args: argparse.Namespace, workers: int, round_: int
) -> tuple[dict[str, LoadResult], dict[str, Any], int]:
    """One round of heavy_erasure: its four results, the lock waits beside the erasures and
    the WAL bytes the erasures alone wrote."""
    label = round_label(round_, args.rounds)
    alone_count = args.heavy_users // 2
    # Each part starts settled, as the closed-loop DELETE /me rounds do: the dead rows of the
    # erasures before it are vacuumed and the pages they dirtied written out, so a part is not
    # measured beside the clean-up of the one before (rounds 2-5 of a run were, once).
    scale.settle(site.database_url)
    print(f"bench: {site.tag}{workers} worker(s): DELETE /me of {alone_count} users with "
          f"{scale.HEAVY_EVENTS} events and {scale.HEAVY_STATES} states, alone{label}",
          flush=True)
    wal_before = scale.wal_position(site.database_url)
    alone = site.load(mode="erase", connections=4, duration=120.0,
                      users_file=site.people.heavy_alone[round_], max_requests=alone_count)
    wal_bytes = scale.wal_position(site.database_url) - wal_before
    scale.settle(site.database_url)
    steady = functools.partial(site.load, mode="map", connections=args.latency_connections,
                               users_file=site.writers, rate=args.steady_rate)
    print(f"bench: {site.tag}{workers} worker(s): POST /map at {args.steady_rate:g}/s, "
          f"alone{label}", flush=True)
    seconds = max(3.0, args.duration / 2)
    quiet = steady(duration=seconds)
    count = args.heavy_users - alone_count
    print(f"bench: {site.tag}{workers} worker(s): POST /map at {args.steady_rate:g}/s beside "
          f"DELETE /me of {count} heavy users{label}", flush=True)
    with (concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool,
          scale.LockWaits(site.database_url) as waits):
        writes = pool.submit(steady, duration=seconds)
        time.sleep(0.5)
        # Paced over the writes' run, so every second of it has erasures beside it.
        erase = site.load(mode="erase", connections=4, duration=120.0,
                          users_file=site.people.heavy_beside[round_], max_requests=count,
                          rate=count / (seconds - 1.0))
        beside = writes.result()
    rate = f"{args.steady_rate:g}/s"
    return {
        "heavy_erase_alone": to_result("DELETE /me heavy user, alone", workers, 4, alone),
        "heavy_erase": to_result("DELETE /me heavy user, beside writes", workers, 4, erase),
        "map_steady": to_result(f"POST /map {rate} steady, alone", workers,
                                args.latency_connections, quiet),
        "map_beside_erase": to_result(f"POST /map {rate} beside erasures", workers,
                                      args.latency_connections, beside),
    }, waits.as_dict(), wal_bytes


def _row(r: LoadResult) -> str:
    return (f"{r.scenario:<38}{r.workers:>3}{r.connections:>6}{r.requests_per_second:>9.0f}"
            f"{r.p50_ms:>9.2f}{r.p95_ms:>9.2f}{r.p99_ms:>9.2f}{r.max_ms:>9.1f}{r.errors:>7}"
            f"{r.server_cpu_percent:>8.0f}%{r.load_before:>6.1f}>{r.load_after:<4.1f}")


def _as_dict(r: LoadResult) -> dict[str, Any]:
    return {**r.__dict__, "requests_per_second": r.requests_per_second,
            "requests_per_cpu_second": r.requests_per_cpu_second,
            "wal_kb_per_request": r.wal_kb_per_request}


def report(site: Site, args: argparse.Namespace, client: str, stamp: str) -> dict[str, Any]:
    results, peak_rss, pgbench, data = site.results, site.peak_rss, site.pgbench, site.data
    cpu = f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()})"
    print(f"\nawaterra bench: --rows {site.rows} ({2 * site.rows} events), PostgreSQL "
          f"{data['durability']}, {client}, {cpu}; {scale.cpu_note()}")
    if args.rounds > 1:
        print(f"each closed-loop scenario: {args.rounds} interleaved rounds of "
              f"{args.duration:g} s; latencies and CPU are the medians over them")
    if len(args.rows) > 1:
        print("measured in one run beside --rows " + ", ".join(
            f"{rows}" for rows in args.rows if rows != site.rows) + ": each scenario's round "
            "ran on every size in turn, each cluster checkpointed after its step")
    settings = ", ".join(f"{k}={v}" for k, v in data["postgres_settings"].items())
    print(f"PostgreSQL settings beyond the defaults: {settings or 'none'}")
    sync = data["disk_sync"]
    print(f"disk: 8 kB fdatasync p50 {sync['p50_ms']:.2f} ms, p99 {sync['p99_ms']:.2f} ms, max "
          f"{sync['max_ms']:.1f} ms; {sync['stalls']:.0f} stalls over {scale.SYNC_STALL_MS:g} ms "
          f"in {sync['seconds']:g} s (each one holds every write in flight)")
    print(f"seeded in {data['seed_seconds']:.1f} s; database {data['size_mb_seeded']:.0f} MB "
          f"seeded, {data.get('size_mb_end', 0):.0f} MB at the end; maintain (nothing to drop) "
          f"{data['maintain_seconds']:.2f} s")
    print(f"{'scenario':<38}{'wk':>3}{'conns':>6}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
          f"{'p99 ms':>9}{'max ms':>9}{'errors':>7}{'srv CPU':>9}{'load avg':>11}")
    for r in results:
        print(_row(r))
    heavy_alone: LoadResult | None = data.get("heavy_erase_alone")
    heavy: LoadResult | None = data.get("heavy_erase")
    steady: LoadResult | None = data.get("map_steady")
    beside: LoadResult | None = data.get("map_beside_erase")
    for extra in (heavy_alone, heavy, steady, beside):
        if extra is not None:
            print(_row(extra))
    waits = data.get("lock_waits_beside_erase")
    if waits:
        print(f"lock waits while they ran: {waits['samples_waiting']} of {waits['samples']} "
              f"samples of pg_stat_activity saw a session waiting for a lock (at most "
              f"{waits['most_waiting']} at once)"
              + (f"; sampling failed: {waits['error']}" if waits["error"] else ""))
    if heavy is not None:
        print(f"(heavy user: {scale.HEAVY_EVENTS:,} events and {scale.HEAVY_STATES} practice "
              "states; writes and erasures beside each other are open loop, at a steady rate)")
        print(f"WAL written per heavy user's erasure, alone: {data['heavy_erase_wal_kb']:.0f} kB "
              f"(wal_compression={data['postgres_settings'].get('wal_compression', 'off')})")
    by_key = {(r.scenario, r.workers, r.connections): r for r in results}
    top = max(args.workers)
    map_load = by_key.get(("POST /map", top, args.throughput_connections))
    map_latency = by_key.get(("POST /map", top, args.latency_connections))
    heartbeat_latency = by_key.get(("GET /heartbeat", top, args.latency_connections))
    ratio = None
    if pgbench and map_load:
        ratio = map_load.requests_per_second / pgbench["tps"]
        print(f"{'pgbench upsert':<38}{'':>3}{args.throughput_connections:>6}"
              f"{pgbench['tps']:>9.0f}  (latency average {pgbench['latency_average_ms']:.2f} ms, "
              f"{pgbench['failed']:.0f} failed)")
        print(f"ratio POST /map ({top} workers) / pgbench: {ratio:.3f}")
    peak_mb = max(peak_rss.values(), default=0) / 2**20
    # A checkpoint beginning during a run shares the disk with its commits: where a p99 stands
    # out, this says whether one did.
    print("WAL per request and checkpoints begun during each scenario (over its rounds): "
          + "; ".join(f"{r.scenario} at {r.connections} ({r.workers} wk) "
                      f"{r.wal_kb_per_request:.2f} kB, {r.checkpoints}" for r in results))
    if len(args.rows) > 1:
        print("CHECKPOINT after each step, over its rounds (the writes the step left; in a "
              "single-size run they land in later steps): " + "; ".join(
                  f"{r.scenario} at {r.connections} ({r.workers} wk) "
                  f"{r.checkpoint_after_seconds:.2f} s" for r in results))
    for r in results:
        if r.writes_per_statement is not None:
            print(f"{r.scenario} at {r.connections} ({r.workers} wk): "
                  f"{r.writes_per_statement:.1f} writes per upsert statement")
    print(f"peak worker RSS under load: {peak_mb:.1f} MB"
          f"{' (the largest worker)' if len(peak_rss) > 1 else ''}")
    export = data.get("export")
    if export:
        print(f"GET /me/export of {args.export_events} events: {export['export_bytes_mb']:.1f} MB "
              f"in {export['export_seconds']:.2f} s; worker RSS growth "
              f"{export['rss_growth_mb']:.1f} MB")
    month = data.get("maintain_month")
    if month:
        print(f"maintain dropping {month['partition']} ({month['rows']} events): "
              f"{month['maintain_seconds']:.2f} s; longest single-row insert beside it "
              f"{month['writer_max_ms_during']:.1f} ms ({month['writer_inserts_during']} inserts; "
              f"{month['writer_max_ms_before']:.1f} ms before it)")

    checks = {
        f"ratio >= {TARGETS['ratio_min']}": ratio is not None and ratio >= TARGETS["ratio_min"],
        f"POST /map p99 < {TARGETS['map_p99_ms_max']:g} ms at {args.latency_connections}":
            map_latency is not None and map_latency.p99_ms < TARGETS["map_p99_ms_max"],
        f"GET /heartbeat p99 < {TARGETS['heartbeat_p99_ms_max']:g} ms at "
        f"{args.latency_connections}":
            heartbeat_latency is not None
            and heartbeat_latency.p99_ms < TARGETS["heartbeat_p99_ms_max"],
        "zero errors": bool(results) and all(r.errors == 0 for r in results),
        f"peak RSS <= {TARGETS['peak_rss_mb_max']:g} MB":
            0 < peak_mb <= TARGETS["peak_rss_mb_max"],
        f"DELETE /me (1,000 events, 50 states) p99 <= {TARGETS['erase_p99_ms_max']:g} ms, "
        "alone and beside steady writes":
            heavy is not None and heavy_alone is not None
            and heavy.errors == 0 and heavy_alone.errors == 0
            and max(heavy.p99_ms, heavy_alone.p99_ms) <= TARGETS["erase_p99_ms_max"],
        # "Without blocking other users' writes": while erasures run beside steady writes, no
        # session ever waits for a lock (the writes still share the CPU and disk with them:
        # their latency is printed beside their latency without erasures).
        "no lock waits beside erasures":
            bool(waits) and not waits["error"] and waits["samples"] > 0
            and waits["samples_waiting"] == 0
            and beside is not None and beside.errors == 0,
        f"export memory growth <= {TARGETS['export_growth_mb_max']:g} MB":
            bool(export) and export["rss_growth_mb"] <= TARGETS["export_growth_mb_max"],
        f"writers wait <= {TARGETS['maintain_lock_ms_max']:g} ms while maintain drops a month":
            bool(month) and month["writer_max_ms_during"] <= TARGETS["maintain_lock_ms_max"],
    }
    print("targets: " + "; ".join(f"{name}: {'met' if ok else 'MISSED'}"
                                  for name, ok in checks.items()))
    recorded = {**vars(args), "rows": site.rows}
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        # The sizes measured side by side in this run (one, when run alone): bench/compare.py
        # says whether the two results it compares shared a run.
        "run": {"stamp": stamp, "rows": list(args.rows)},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "note": scale.cpu_note()},
        "client": client,
        "settings": recorded,
        "data": {k: (_as_dict(v) if isinstance(v, LoadResult) else v) for k, v in data.items()},
        "scenarios": [_as_dict(r) for r in results],
        "pgbench": dict(pgbench) if pgbench else None,
        "ratio": ratio,
        "peak_rss_mb": peak_mb,
        "targets": {name: ok for name, ok in checks.items()},
    }


if __name__ == "__main__":
    sys.exit(main())
