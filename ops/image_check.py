"""Check a built service image with Docker: `python -m ops.image_check IMAGE [options]`.

    python -m ops.image_check awaterra-service
    python -m ops.image_check awaterra-service:datadog --expect-ddtrace
    python -m ops.image_check awaterra-service --postgres-url postgresql://u:p@127.0.0.1:5432/db

Standard library only, so it runs from any checkout with Python 3.11+ and a Docker client:

- contents: runs as uid/gid 10001, a HEALTHCHECK, ENVIRONMENT=prod by default, no pip or
  setuptools, no compilers, only `service/` under /app (no tests/, .venv, keys), ddtrace
  present exactly when `--expect-ddtrace`;
- prod: with nothing configured, `serve` and `migrate` exit non-zero at once with one line
  naming every missing variable (for `migrate`, a job: the database alone), no traceback;
- migrate: `python -m service migrate` twice against the default SQLite under /tmp, on a
  read-only root; a writable run of migrate and token leaves `docker diff` empty (nothing is
  written outside /tmp);
- serve: `--read-only --tmpfs /tmp -e ENVIRONMENT=local` serves the API round trip (heartbeat,
  admin practice, media upload and download, map write and read, OpenAPI, docs), the
  HEALTHCHECK turns healthy, the logs hold no traceback or read-only error, SIGTERM stops it
  cleanly;
- ECS-shaped: as the task definition runs it, a `migrate` container and then `serve --workers 2`,
  both read-only, uid 10001, `--cap-drop ALL --init`, sharing one /tmp volume: the same checks;
- with `--postgres-url` (reached over `--network host`), migrate twice and the same round trip
  against PostgreSQL. With `--expect-ddtrace` the service serves with DD_TRACE_ENABLED=true
  (no agent needed).

Exit status: 0 when every check passed, 1 when one failed, 2 when Docker or the image is
unusable. Containers it starts are named `awaterra-image-check-*` and removed (unless `--keep`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

EXPECTED_UID = 10001
CONTAINER_PORT = 8000
PROD_REQUIRED = ("AUTH_JWKS_URL", "AUTH_ISSUER", "AUTH_AUDIENCE", "DATABASE_URL", "STORAGE_URL")
# The jobs read only the database settings (the stacks give them nothing else).
JOB_REQUIRED = ("DATABASE_URL",)
COMPILERS = ("gcc", "cc", "c++", "g++", "make", "clang")
# The container's own /tmp (a tmpfs), the one place the image writes to.
TMPFS = ("--tmpfs", "/tmp")  # noqa: S108
LOG_RED_FLAGS = ("Traceback (most recent call last)", "Read-only file system", '"level":"critical"')

# Run inside the image: what it holds, as JSON on stdout.
INSPECT_SNIPPET = r"""
import importlib.util, json, os, shutil, sys
from pathlib import Path
def version(name):
    if importlib.util.find_spec(name) is None:
        return None
    module = __import__(name)
    return getattr(module, "__version__", "unknown")
def private(path):
    if path.name in (".env", "media-signing-key") or path.suffix == ".key":
        return True
    return path.suffix == ".pem" and b"PRIVATE KEY" in path.read_bytes()
found_keys = [
    str(p) for root in ("/app", "/opt/venv") for p in Path(root).rglob("*")
    if p.is_file() and private(p)
]
print(json.dumps({
    "uid": os.getuid(), "gid": os.getgid(),
    "python": sys.version.split()[0],
    "pip": version("pip"),
    "setuptools": version("setuptools"),
    "ddtrace": version("ddtrace"),
    "compilers": [c for c in COMPILERS if shutil.which(c)],
    "app": sorted(p.name for p in Path("/app").iterdir()),
    "keys": found_keys,
}))
"""


class DockerUnusable(Exception):
    """Docker is missing, its daemon does not answer, or the image does not exist."""


@dataclass
class Report:
    """Every check's outcome, printed as it happens."""

    results: list[tuple[str, bool, str]] = field(default_factory=list)

    def check(self, name: str, passed: bool, detail: str = "") -> bool:
        self.results.append((name, passed, detail))
        print(f"{'PASS' if passed else 'FAIL'}  {name}" + (f": {detail}" if detail else ""))
        sys.stdout.flush()
        return passed

    @property
    def failed(self) -> list[str]:
        return [name for name, passed, _ in self.results if not passed]


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def docker(*args: str, timeout: float = 120.0) -> Completed:
    """Run the docker CLI; never raises for a non-zero exit (callers judge that)."""
    started = time.monotonic()
    try:
        done = subprocess.run(  # noqa: S603 (fixed argv for the docker client)
            ["docker", *args],  # noqa: S607 (the docker client on PATH, whichever it is)
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        out = error.stdout.decode() if isinstance(error.stdout, bytes) else (error.stdout or "")
        return Completed(124, out, f"timed out after {timeout:.0f}s", time.monotonic() - started)
    return Completed(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def image_config(image: str) -> dict[str, Any]:
    if shutil.which("docker") is None:
        raise DockerUnusable("no docker client on PATH")
    done = docker("image", "inspect", image, timeout=30)
    if done.returncode != 0:
        raise DockerUnusable(done.stderr.strip() or f"docker image inspect {image} failed")
    config: dict[str, Any] = json.loads(done.stdout)[0]
    return config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(
    method: str,
    url: str,
    *,
    token: str | None = None,
    body: Any = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, bytes]:
    """(status, body) of one request; connection failures are status 0."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url!r}")
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (checked above)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (urllib.error.URLError, OSError):
        return 0, b""


def wait_for_heartbeat(base: str, timeout: float) -> tuple[int, bytes]:
    deadline = time.monotonic() + timeout
    status, body = 0, b""
    while time.monotonic() < deadline:
        status, body = http("GET", f"{base}/heartbeat", timeout=3)
        if status == 200:
            break
        time.sleep(0.5)
    return status, body


def wait_for_answer(base: str, timeout: float) -> tuple[int, bytes]:
    """The first HTTP answer from /heartbeat, whatever its status (0: none in time)."""
    deadline = time.monotonic() + timeout
    status, body = 0, b""
    while time.monotonic() < deadline:
        status, body = http("GET", f"{base}/heartbeat", timeout=3)
        if status:
            break
        time.sleep(0.5)
    return status, body


def env_flags(pairs: Sequence[str]) -> list[str]:
    return [flag for pair in pairs for flag in ("-e", pair)]


def json_field(body: bytes, *path: str) -> Any:
    try:
        value: Any = json.loads(body)
        for key in path:
            value = value[key]
    except (ValueError, KeyError, TypeError):
        return None
    return value


class ImageCheck:
    def __init__(self, image: str, *, expect_ddtrace: bool, timeout: float, keep: bool) -> None:
        self.image = image
        self.expect_ddtrace = expect_ddtrace
        self.timeout = timeout
        self.keep = keep
        self.report = Report()
        self.run_id = uuid.uuid4().hex[:8]
        self.containers: list[str] = []
        self.volumes: list[str] = []

    # --- helpers ---------------------------------------------------------------------------

    def name(self, what: str) -> str:
        container = f"awaterra-image-check-{self.run_id}-{what}"
        self.containers.append(container)
        return container

    def run_once(self, *args: str, env: Sequence[str] = (), read_only: bool = True) -> Completed:
        flags = ["--rm", *TMPFS, *(["--read-only"] if read_only else []), *env_flags(env)]
        return docker("run", *flags, self.image, *args, timeout=self.timeout)

    def cleanup(self) -> None:
        if self.keep:
            print(f"kept containers {' '.join(self.containers)}, volumes {' '.join(self.volumes)}")
            return
        for container in self.containers:
            docker("rm", "--force", "--volumes", container, timeout=30)
        for volume in self.volumes:
            docker("volume", "rm", "--force", volume, timeout=30)

    # --- checks ----------------------------------------------------------------------------

    def check_config(self, config: dict[str, Any]) -> None:
        settings = config.get("Config") or {}
        user = settings.get("User") or ""
        self.report.check(
            "image user is 10001", user.split(":")[0] == str(EXPECTED_UID), f"USER {user!r}"
        )
        health = (settings.get("Healthcheck") or {}).get("Test") or []
        self.report.check("image has a HEALTHCHECK", bool(health), " ".join(health)[:80])
        env = dict(item.partition("=")[::2] for item in settings.get("Env") or [])
        self.report.check(
            "ENVIRONMENT defaults to prod",
            env.get("ENVIRONMENT") == "prod",
            f"ENVIRONMENT={env.get('ENVIRONMENT')!r}",
        )
        size_mb = int(config.get("Size", 0)) / 1_000_000
        layers = len((config.get("RootFS") or {}).get("Layers") or [])
        print(f"INFO  image size {size_mb:.0f} MB in {layers} layers")

    def check_contents(self) -> None:
        snippet = INSPECT_SNIPPET.replace("COMPILERS", repr(COMPILERS))
        done = self.run_once("python", "-c", snippet)
        if not self.report.check(
            "inspect the image from inside", done.returncode == 0, done.stderr.strip()[-300:]
        ):
            return
        facts = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"INFO  python {facts['python']}, ddtrace {facts['ddtrace']}")
        self.report.check(
            "runs as uid/gid 10001",
            facts["uid"] == EXPECTED_UID and facts["gid"] == EXPECTED_UID,
            f"uid={facts['uid']} gid={facts['gid']}",
        )
        installers = {name: facts[name] for name in ("pip", "setuptools") if facts[name]}
        self.report.check("no pip or setuptools in the runtime", not installers, str(installers))
        self.report.check(
            "no compilers or make", not facts["compilers"], ", ".join(facts["compilers"])
        )
        self.report.check(
            "/app holds only the service package", facts["app"] == ["service"], str(facts["app"])
        )
        self.report.check(
            "no private keys or .env files in the image", not facts["keys"], str(facts["keys"])
        )
        if self.expect_ddtrace:
            self.report.check("ddtrace is installed", facts["ddtrace"] is not None)
        else:
            self.report.check(
                "ddtrace is absent (no SERVICE_EXTRAS)",
                facts["ddtrace"] is None,
                f"ddtrace {facts['ddtrace']}",
            )

    def check_prod_fails_fast(self) -> None:
        for command in ((), ("python", "-m", "service", "migrate")):
            label = "migrate" if command else "default command (serve)"
            done = self.run_once(*command)
            output = done.stdout + done.stderr
            required = JOB_REQUIRED if command else PROD_REQUIRED
            missing = [name for name in required if name not in output]
            self.report.check(
                f"ENVIRONMENT=prod unconfigured, {label}: fails fast and clearly",
                done.returncode not in (0, 124)
                and done.seconds < 30
                and not missing
                and "Traceback" not in output
                and len(output.strip().splitlines()) <= 3,
                f"exit {done.returncode} in {done.seconds:.1f}s; "
                + (f"does not name {', '.join(missing)}; " if missing else "")
                + f"says: {output.strip()[:300]}",
            )

    def check_migrate_sqlite(self) -> None:
        twice = "python -m service migrate && python -m service migrate"
        done = self.run_once("sh", "-c", twice, env=["ENVIRONMENT=local"])
        self.report.check(
            "migrate twice, SQLite under /tmp, read-only root",
            done.returncode == 0 and "database schema is current" in done.stdout + done.stderr,
            f"exit {done.returncode}" + ("" if done.returncode == 0 else f": {done.stderr[-300:]}"),
        )
        container = self.name("writes")
        flags = ["--name", container, *TMPFS, *env_flags(["ENVIRONMENT=local"])]
        commands = "python -m service migrate && python -m service token image-check >/dev/null"
        done = docker("run", *flags, self.image, "sh", "-c", commands, timeout=self.timeout)
        diff = docker("diff", container, timeout=30)
        changed = diff.stdout.split("\n") if diff.stdout.strip() else []
        self.report.check(
            "migrate and token write nothing outside /tmp (docker diff)",
            done.returncode == 0 and diff.returncode == 0 and not changed,
            f"exit {done.returncode}; changed: {changed[:10]}",
        )

    def check_serve(
        self,
        label: str,
        base: str,
        container: str,
        *,
        health: bool,
        migrate_first: bool = False,
        traced: bool = False,
    ) -> None:
        if migrate_first:
            # Never migrated: the heartbeat must say so rather than pass.
            status, body = wait_for_answer(base, self.timeout)
            database = json_field(body, "checks", "database") or {}
            self.report.check(
                f"{label}: before migrate, GET /heartbeat 503 SchemaNotMigrated",
                status == 503 and database.get("error") == "SchemaNotMigrated",
                f"status {status}, database {json.dumps(database)}",
            )
            # The SQLite file lives in this container's own /tmp: migrate it there, as a
            # separate command, the way a developer would.
            migrated = docker("exec", container, "python", "-m", "service", "migrate")
            self.report.check(
                f"{label}: `python -m service migrate` beside the server",
                migrated.returncode == 0,
                migrated.stderr.strip()[-300:],
            )
        status, body = wait_for_heartbeat(base, self.timeout)
        checks = json_field(body, "checks") or {}
        self.report.check(
            f"{label}: GET /heartbeat 200",
            status == 200 and json_field(body, "status") == "ok",
            f"status {status}, checks {json.dumps(checks)}",
        )
        if status != 200:
            print(docker("logs", "--tail", "40", container).stderr[-3000:])
            return
        self.check_round_trip(label, base, container)
        if health:
            self.check_health(label, container)
        logs = docker("logs", container)
        lines = (logs.stdout + logs.stderr).splitlines()
        flagged = [line for line in lines if any(flag in line for flag in LOG_RED_FLAGS)]
        self.report.check(
            f"{label}: logs hold no traceback or read-only error", not flagged, str(flagged[:3])
        )
        if traced:
            # service/tracing.py warns and serves untraced when ddtrace does not import.
            active = any('"dd.trace_id"' in line for line in lines)
            self.report.check(f"{label}: ddtrace is active (dd.* ids on log lines)", active)
        uid = docker("exec", container, "python", "-c", "import os; print(os.getuid())")
        self.report.check(
            f"{label}: serving process runs as 10001",
            uid.stdout.strip() == str(EXPECTED_UID),
            f"uid {uid.stdout.strip() or uid.stderr.strip()}",
        )

    def check_round_trip(self, label: str, base: str, container: str) -> None:
        minted = docker(
            "exec", container, "python", "-m", "service", "token", "image-check-admin", "--admin"
        )
        token = minted.stdout.strip()
        if not self.report.check(
            f"{label}: `python -m service token` in the container",
            minted.returncode == 0 and token.count(".") == 2,
            minted.stderr.strip()[-200:],
        ):
            return
        practice = f"image-check-{self.run_id}"
        content = {
            "title": "Image check",
            "description": "written by ops/image_check.py",
            "durationSeconds": 60,
            "category": "check",
            "published": True,
        }
        state: dict[str, Any] = {}

        def put_practice(media_key: str | None = None) -> tuple[int, bytes]:
            body = dict(content, **({"mediaKey": media_key} if media_key else {}))
            return http("PUT", f"{base}/practices/{practice}", token=token, body=body)

        def media_upload() -> tuple[int, bytes]:
            status, body = http(
                "POST",
                f"{base}/practices/{practice}/media",
                token=token,
                body={"contentType": "audio/mpeg"},
            )
            state["upload"] = json_field(body, "data") or {}
            return status, body

        def media_put() -> tuple[int, bytes]:
            upload = state.get("upload") or {}
            return http(
                "PUT",
                str(upload.get("uploadUrl", f"{base}/missing")),
                raw=b"ID3 image-check media",
                headers=upload.get("uploadHeaders") or {},
            )

        def media_link() -> tuple[int, bytes]:
            return put_practice(str((state.get("upload") or {}).get("mediaKey")))

        def media_get() -> tuple[int, bytes]:
            status, body = http("GET", f"{base}/practices/{practice}", token=token)
            url = json_field(body, "data", "mediaUrl")
            if status != 200 or not url:
                return status, body
            got_status, got = http("GET", str(url))
            return (got_status, got) if got == b"ID3 image-check media" else (599, got[:100])

        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        map_write = {
            "userId": "image-check-admin",
            "practiceData": {
                "practiceId": practice,
                "status": "in_progress",
                "progress": 0.5,
                "updatedAt": now,
                "state": {"position": 30},
            },
        }

        events = f"{base}/events"
        batch = {"events": [{"name": "image_check", "occurredAt": now, "properties": {}}]}

        def map_read() -> tuple[int, bytes]:
            status, body = http("GET", f"{base}/map", token=token)
            stored = json_field(body, "data", "practices") or []
            mine = [p for p in stored if p.get("practiceId") == practice]
            return (status, body) if mine and mine[0].get("progress") == 0.5 else (599, body[:200])

        steps: list[tuple[str, Callable[[], tuple[int, bytes]], set[int]]] = [
            ("PUT /practices/{id}", put_practice, {200, 201}),
            ("POST /practices/{id}/media", media_upload, {200}),
            ("PUT the signed upload URL", media_put, {200, 201, 204}),
            ("PUT /practices/{id} with the mediaKey", media_link, {200}),
            ("GET the signed media URL", media_get, {200}),
            ("POST /map", lambda: http("POST", f"{base}/map", token=token, body=map_write), {200}),
            ("GET /map", map_read, {200}),
            ("POST /events", lambda: http("POST", events, token=token, body=batch), {202}),
            ("GET /config", lambda: http("GET", f"{base}/config"), {200}),
            ("GET /openapi.json", lambda: http("GET", f"{base}/openapi.json"), {200}),
            ("GET /docs", lambda: http("GET", f"{base}/docs"), {200}),
            ("GET /metrics", lambda: http("GET", f"{base}/metrics"), {200}),
            ("GET /map without a token is 401", lambda: http("GET", f"{base}/map"), {401}),
        ]
        for step, call, expected in steps:
            status, body = call()
            self.report.check(
                f"{label}: {step}",
                status in expected,
                f"status {status}" + ("" if status in expected else f": {body[:200]!r}"),
            )

    def check_health(self, label: str, container: str) -> None:
        deadline = time.monotonic() + max(self.timeout, 60)
        status = ""
        while time.monotonic() < deadline:
            status = docker(
                "inspect", "--format", "{{.State.Health.Status}}", container, timeout=30
            ).stdout.strip()
            if status in ("healthy", "unhealthy"):
                break
            time.sleep(2)
        self.report.check(f"{label}: HEALTHCHECK turns healthy", status == "healthy", status)

    def serve_local(self) -> None:
        container = self.name("serve")
        env = ["ENVIRONMENT=local"] + (["DD_TRACE_ENABLED=true"] if self.expect_ddtrace else [])
        flags = ["--detach", "--name", container, "--read-only", *TMPFS, *env_flags(env)]
        started = docker("run", *flags, "--publish", f"127.0.0.1::{CONTAINER_PORT}", self.image)
        if not self.report.check(
            "serve read-only, ENVIRONMENT=local: container starts",
            started.returncode == 0,
            started.stderr.strip()[-300:],
        ):
            return
        mapped = docker("port", container, f"{CONTAINER_PORT}/tcp").stdout.strip().splitlines()
        address = mapped[0] if mapped else f"127.0.0.1:{CONTAINER_PORT}"
        label = "serve read-only" + (" with DD_TRACE_ENABLED" if self.expect_ddtrace else "")
        self.check_serve(
            label,
            f"http://{address}",
            container,
            health=True,
            migrate_first=True,
            traced=self.expect_ddtrace,
        )
        self.check_stop(label, container)

    def check_stop(self, label: str, container: str) -> None:
        """SIGTERM stops the server gracefully, well before Docker's kill."""
        stopped = docker("stop", "--time", "20", container, timeout=60)
        code = docker(
            "inspect", "--format", "{{.State.ExitCode}}", container, timeout=30
        ).stdout.strip()
        self.report.check(
            f"{label}: SIGTERM stops it cleanly",
            stopped.returncode == 0 and stopped.seconds < 15 and code == "0",
            f"stopped in {stopped.seconds:.1f}s, exit code {code}",
        )

    def serve_ecs_shaped(self) -> None:
        """As the ECS task runs it: a `migrate` container, then `serve --workers 2`, both with
        a read-only root, uid 10001, every capability dropped, an init process, sharing /tmp."""
        volume = f"awaterra-image-check-{self.run_id}-tmp"
        self.volumes.append(volume)
        docker("volume", "create", volume, timeout=30)
        env = ["ENVIRONMENT=local"] + (["DD_TRACE_ENABLED=true"] if self.expect_ddtrace else [])
        hardened = [
            *("--read-only", "--init", "--cap-drop", "ALL"),
            *("--user", f"{EXPECTED_UID}:{EXPECTED_UID}", "--volume", f"{volume}:/tmp"),
            *env_flags(env),
        ]
        label = "ECS-shaped"
        migrate = ["python", "-m", "service", "migrate"]
        migrated = docker("run", "--rm", *hardened, self.image, *migrate, timeout=self.timeout)
        self.report.check(
            f"{label}: migrate container on the shared /tmp",
            migrated.returncode == 0,
            f"exit {migrated.returncode}: {migrated.stderr[-300:]}" if migrated.returncode else "",
        )
        container = self.name("ecs")
        serve = ["python", "-m", "service", "serve", "--host", "0.0.0.0", "--workers", "2"]
        publish = ["--publish", f"127.0.0.1::{CONTAINER_PORT}"]
        started = docker(
            "run", "--detach", "--name", container, *hardened, *publish, self.image, *serve
        )
        if not self.report.check(
            f"{label}: serve --workers 2 starts", started.returncode == 0, started.stderr[-300:]
        ):
            return
        mapped = docker("port", container, f"{CONTAINER_PORT}/tcp").stdout.strip().splitlines()
        address = mapped[0] if mapped else f"127.0.0.1:{CONTAINER_PORT}"
        self.check_serve(
            label, f"http://{address}", container, health=True, traced=self.expect_ddtrace
        )
        self.check_stop(label, container)

    def postgres(self, url: str) -> None:
        flags = [
            *("--read-only", *TMPFS, "--network", "host"),
            *env_flags(["ENVIRONMENT=local", f"DATABASE_URL={url}"]),
        ]
        twice = "python -m service migrate && python -m service migrate"
        done = docker("run", "--rm", *flags, self.image, "sh", "-c", twice, timeout=self.timeout)
        self.report.check(
            "PostgreSQL: migrate twice",
            done.returncode == 0 and "PostgresqlImpl" in done.stdout + done.stderr,
            f"exit {done.returncode}" + ("" if done.returncode == 0 else f": {done.stderr[-300:]}"),
        )
        port = free_port()
        container = self.name("serve-pg")
        serve = ["python", "-m", "service", "serve", "--host", "127.0.0.1", "--port", str(port)]
        started = docker("run", "--detach", "--name", container, *flags, self.image, *serve)
        if self.report.check(
            "PostgreSQL: container starts", started.returncode == 0, started.stderr[-300:]
        ):
            # The HEALTHCHECK probes port 8000; this server listens elsewhere (host network).
            self.check_serve("PostgreSQL", f"http://127.0.0.1:{port}", container, health=False)

    def run(self, postgres_url: str | None) -> int:
        config = image_config(self.image)
        print(f"checking {self.image} ({config['Id'][:19]})")
        try:
            self.check_config(config)
            self.check_contents()
            self.check_prod_fails_fast()
            self.check_migrate_sqlite()
            self.serve_local()
            self.serve_ecs_shaped()
            if postgres_url:
                self.postgres(postgres_url)
        finally:
            self.cleanup()
        failed = self.report.failed
        total = len(self.report.results)
        print(f"{total - len(failed)}/{total} checks passed" + (": FAILED" if failed else ""))
        return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ops.image_check",
        description=(__doc__ or "").split("\n\n")[0],
    )
    parser.add_argument("image", help="image tag or id, e.g. awaterra-service")
    parser.add_argument(
        "--expect-ddtrace",
        action="store_true",
        help="the image was built with SERVICE_EXTRAS=datadog",
    )
    parser.add_argument(
        "--postgres-url",
        help="also migrate and serve against this PostgreSQL (reached with --network host)",
    )
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds per container step (default 60)"
    )
    parser.add_argument("--keep", action="store_true", help="leave the containers for a look")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    check = ImageCheck(
        args.image, expect_ddtrace=args.expect_ddtrace, timeout=args.timeout, keep=args.keep
    )
    try:
        return check.run(args.postgres_url)
    except DockerUnusable as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
