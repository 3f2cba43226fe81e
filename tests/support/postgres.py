"""A throwaway PostgreSQL cluster for tests, started from the binaries on the machine.

`TEST_DATABASE_URL` short-circuits all of this and points the suite at an existing server.
When running as root the cluster is created and run as the `postgres` user, because
`initdb` and `pg_ctl` refuse to run as root.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries are installed and no TEST_DATABASE_URL was given."""


def _bindir() -> Path:
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    for root in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (root / "initdb").exists():
            return root
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found; install postgresql or set TEST_DATABASE_URL"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresCluster:
    """A running throwaway cluster; `url` is a superuser URL without a password (trust auth)."""

    datadir: Path
    port: int
    bindir: Path
    run_as: str | None
    # Durable: fsync, synchronous commit and full-page writes on, as a production server (RDS,
    # Cloud SQL) runs. The test suite's cluster is not: it is thrown away after the run.
    durable: bool = False
    options: str = ""  # more `-c name=value` settings

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _cmd(self, *args: str) -> list[str]:
        if self.run_as:
            return ["runuser", "-u", self.run_as, "--", *args]
        return list(args)

    def start(self) -> None:
        log = self.datadir.parent / "postgres.log"
        subprocess.run(
            self._cmd(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-l",
                str(log),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {self.port} -k {self.datadir.parent} -c listen_addresses=127.0.0.1 "
                + ("" if self.durable else
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off ")
                + f"-c max_connections=300 {self.options}",
                "start",
            ),
            check=True,
            capture_output=True,
        )

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            self._cmd(
                str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop"
            ),
            check=False,
            capture_output=True,
        )

    def create_database(self, name: str) -> str:
        subprocess.run(
            [
                str(self.bindir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                f'CREATE DATABASE "{name}"',
            ],
            check=True,
            capture_output=True,
        )
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"


def start_cluster(*, durable: bool = False, options: str = "") -> PostgresCluster:
    bindir = _bindir()
    run_as = "postgres" if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="awaterra-pg-"))
    datadir = base / "data"
    if run_as:
        uid = pwd.getpwnam(run_as).pw_uid
        os.chown(base, uid, -1)
    cmd = [
        str(bindir / "initdb"),
        "-D",
        str(datadir),
        "-U",
        "postgres",
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--no-sync",
    ]
    if run_as:
        cmd = ["runuser", "-u", run_as, "--", *cmd]
    subprocess.run(cmd, check=True, capture_output=True)
    cluster = PostgresCluster(
        datadir=datadir, port=free_port(), bindir=bindir, run_as=run_as, durable=durable,
        options=options,
    )
    cluster.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", cluster.port), timeout=1):
                return cluster
        except OSError:
            time.sleep(0.1)
    raise PostgresUnavailable(f"PostgreSQL did not start on port {cluster.port}")


def destroy_cluster(cluster: PostgresCluster) -> None:
    cluster.stop("immediate")
    shutil.rmtree(cluster.datadir.parent, ignore_errors=True)
