"""Benchmark of the request path: `python bench/run.py` (or `make bench`) from the repository root.

Starts a throwaway PostgreSQL cluster, migrates it with `python -m service migrate`, serves
the API with `python -m service serve` (one worker, default settings, request logs on), seeds
practices through `PUT /practices/{id}` with an admin token from `python -m service token`,
and drives closed-loop load with wrk (or the raw-socket fallback in bench/loadgen.py):

- throughput at 64 connections and latency percentiles at 16 connections,
  for authenticated `POST /map` (distinct users and practices, every write newer than the
  last, so each one really updates its row) and for `GET /heartbeat`;
- the worker's peak resident memory under that load (kernel high-water mark, VmHWM);
- pgbench at 64 connections running the service's own upsert statement (compiled from
  service.queries), with the service stopped, and the ratio of the two.

Not a test: figures depend on the machine. Results are printed and written as JSON to
bench/results/ (git-ignored).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from tests.support.postgres import (  # noqa: E402
    PostgresCluster,
    destroy_cluster,
    free_port,
    start_cluster,
)

LUA_SCRIPT = ROOT / "bench" / "load.lua"
RESULTS_DIR = ROOT / "bench" / "results"
DATABASE_NAME = "bench"

TARGETS = {
    "ratio_min": 0.25,
    "map_p99_ms_max": 20.0,
    "heartbeat_p99_ms_max": 10.0,
    "peak_rss_mb_max": 150.0,
}


@dataclass
class LoadResult:
    scenario: str
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

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

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


def write_users_file(path: Path, data_dir: Path, count: int) -> None:
    from service.auth import mint_local_token

    lines = [
        f"bench-user-{n} {mint_local_token(f'bench-user-{n}', False, 7200, data_dir)}"
        for n in range(1, count + 1)
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
) -> dict[str, float]:
    env = dict(os.environ)
    env.update(
        BENCH_MODE=mode,
        BENCH_USERS_FILE=str(users_file),
        BENCH_PRACTICES=str(practices),
        BENCH_START_US=str(int(time.time() * 1_000_000)),
        BENCH_THREADS=str(threads),
    )
    if wrk:
        command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s",
                   "--timeout", "5s", "-s", str(LUA_SCRIPT), f"http://127.0.0.1:{port}"]
    else:
        command = [sys.executable, str(ROOT / "bench" / "loadgen.py"), "--port", str(port),
                   "--mode", mode, "--connections", str(connections), "--duration",
                   str(duration), "--users-file", str(users_file), "--practices", str(practices)]
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


def to_result(scenario: str, connections: int, raw: Mapping[str, float]) -> LoadResult:
    errors = sum(int(raw[k]) for k in ("connect_errors", "read_errors", "write_errors",
                                       "timeouts", "not_ok"))
    return LoadResult(
        scenario=scenario,
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per scenario")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up load")
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--practices", type=int, default=50)
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
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers (default 1); "
                        "memory is reported per worker, CPU for all of them")
    parser.add_argument("--pool-size", type=int, help="DB_POOL_SIZE for the service "
                        "(default: the service's own default)")
    parser.add_argument("--profile", type=Path, metavar="FILE",
                        help="run the server under cProfile, write the stats to FILE and print "
                             "the top functions (slows the server: figures are not comparable)")
    args = parser.parse_args(argv)

    wrk = None if args.client == "python" else find_wrk(not args.no_install)
    if args.client == "wrk" and not wrk:
        print("wrk is not installed", file=sys.stderr)
        return 2
    client = describe_client(wrk)
    workdir = Path(tempfile.mkdtemp(prefix="awaterra-bench-"))
    print(f"bench: work directory {workdir}; load generator: {client}", flush=True)
    cluster = start_cluster()
    results: list[LoadResult] = []
    peak_rss: dict[int, int] = {}
    pgbench: dict[str, float] | None = None
    try:
        database_url = cluster.create_database(DATABASE_NAME)
        env = service_env(database_url, workdir, args.pool_size, dict(args.env))
        run_cli(env, "migrate")
        admin_token = run_cli(env, "token", "bench-admin", "--admin", "--ttl", "7200").strip()
        users_file = workdir / "users.txt"
        write_users_file(users_file, workdir / "data", args.users)
        port = free_port()
        with serving(env, port, workdir / "service.log", args.workers, args.profile) as server:
            seed_practices(f"http://127.0.0.1:{port}", admin_token, args.practices)
            load = functools.partial(run_load, wrk=wrk, port=port, users_file=users_file,
                                     practices=args.practices, threads=args.wrk_threads,
                                     server=server)
            with PeakMemory(server) as memory:
                print("bench: warming up", flush=True)
                load(mode="map", connections=args.throughput_connections, duration=args.warmup)
                plan = [
                    ("POST /map", "map", args.throughput_connections),
                    ("GET /heartbeat", "heartbeat", args.throughput_connections),
                    ("POST /map", "map", args.latency_connections),
                    ("GET /heartbeat", "heartbeat", args.latency_connections),
                ]
                for label, mode, connections in plan:
                    print(f"bench: {label} at {connections} connections", flush=True)
                    statements, writes = write_batch_totals(port)
                    raw = load(mode=mode, connections=connections, duration=args.duration)
                    result = to_result(label, connections, raw)
                    if mode == "map":
                        more_statements, more_writes = write_batch_totals(port)
                        if more_statements > statements:
                            result.writes_per_statement = (
                                (more_writes - writes) / (more_statements - statements))
                    results.append(result)
                marks = memory.high_water_marks()
                peak_rss = {pid: max(marks.get(pid, 0), memory.sampled_peak.get(pid, 0))
                            for pid in set(marks) | set(memory.sampled_peak)}
        if not args.skip_pgbench:
            print(f"bench: pgbench at {args.throughput_connections} connections", flush=True)
            script = workdir / "upsert.sql"
            script.write_text(pgbench_script(args.users, args.practices))
            pgbench = run_pgbench(cluster, script, args.throughput_connections, args.duration)
    finally:
        destroy_cluster(cluster)

    if args.profile:
        import pstats

        pstats.Stats(str(args.profile)).sort_stats("tottime").print_stats(30)
    summary = report(results, peak_rss, pgbench, args, client)
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"bench-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    out.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    # The service log (~100 MB of request lines) stays only when asked for or when something
    # failed; the bench's signing key and the tokens it signed never stay.
    shutil.rmtree(workdir / "data", ignore_errors=True)
    (workdir / "users.txt").unlink(missing_ok=True)
    if args.keep_log or not all(summary["targets"].values()):
        print(f"\nresults written to {out.relative_to(ROOT)}; service log in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"\nresults written to {out.relative_to(ROOT)}")
    return 0


def report(
    results: list[LoadResult], peak_rss: Mapping[int, int], pgbench: Mapping[str, float] | None,
    args: argparse.Namespace, client: str,
) -> dict[str, Any]:
    cpu = f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()})"
    workers = f"{args.workers} worker{'s' if args.workers > 1 else ''}"
    print(f"\nawaterra bench: {workers}, PostgreSQL (fsync off), {client}, {cpu}")
    print(f"{'scenario':<16}{'conns':>6}{'req/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
          f"{'max ms':>9}{'errors':>8}{'stale':>7}{'srv CPU':>9}{'req/CPU-s':>11}"
          f"{'load avg':>12}")
    for r in results:
        print(f"{r.scenario:<16}{r.connections:>6}{r.requests_per_second:>10.0f}{r.p50_ms:>9.2f}"
              f"{r.p95_ms:>9.2f}{r.p99_ms:>9.2f}{r.max_ms:>9.1f}{r.errors:>8}{r.not_applied:>7}"
              f"{r.server_cpu_percent:>8.0f}%{r.requests_per_cpu_second:>11.0f}"
              f"{r.load_before:>6.1f}>{r.load_after:<4.1f}")
    by_key = {(r.scenario, r.connections): r for r in results}
    map_load = by_key.get(("POST /map", args.throughput_connections))
    map_latency = by_key.get(("POST /map", args.latency_connections))
    heartbeat_latency = by_key.get(("GET /heartbeat", args.latency_connections))
    ratio = None
    if pgbench and map_load:
        ratio = map_load.requests_per_second / pgbench["tps"]
        print(f"{'pgbench upsert':<16}{args.throughput_connections:>6}{pgbench['tps']:>10.0f}"
              f"  (latency average {pgbench['latency_average_ms']:.2f} ms, "
              f"{pgbench['failed']:.0f} failed)")
        print(f"ratio POST /map / pgbench: {ratio:.3f}")
    peak_mb = max(peak_rss.values(), default=0) / 2**20
    for r in results:
        if r.writes_per_statement is not None:
            print(f"{r.scenario} at {r.connections}: {r.writes_per_statement:.1f} writes per "
                  "upsert statement (coalesced under load, docs/service.md)")
    print(f"peak worker RSS under load: {peak_mb:.1f} MB"
          f"{' (the largest worker)' if len(peak_rss) > 1 else ''}")

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
    }
    print("targets: " + "; ".join(f"{name}: {'met' if ok else 'MISSED'}"
                                  for name, ok in checks.items()))
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "client": client,
        "settings": vars(args),
        "scenarios": [
            {**r.__dict__, "requests_per_second": r.requests_per_second,
             "requests_per_cpu_second": r.requests_per_cpu_second}
            for r in results
        ],
        "pgbench": dict(pgbench) if pgbench else None,
        "ratio": ratio,
        "peak_rss_mb": peak_mb,
        "targets": {name: ok for name, ok in checks.items()},
    }


if __name__ == "__main__":
    sys.exit(main())
