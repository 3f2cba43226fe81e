"""Debian's Prometheus and blackbox exporter as processes on loopback, with an HTTP API client."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.postgres import free_port


class PrometheusUnavailable(RuntimeError):
    """The Prometheus binaries are not installed (.ci/run installs Debian's packages)."""


def binary(name: str) -> str:
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path is None:
        raise PrometheusUnavailable(
            f"{name} not found: apt-get install prometheus prometheus-blackbox-exporter"
        )
    return path


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} not ready after {timeout:g} s: {log.read_text()[-2000:]}")
        time.sleep(0.1)


@contextmanager
def _process(argv: list[str], log: Path, ready_url: str) -> Iterator[None]:
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_ready(ready_url, process, log, timeout=30)
            yield
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def blackbox_exporter(config: Path, workdir: Path) -> Iterator[str]:
    """Yield the exporter's host:port."""
    address = f"127.0.0.1:{free_port()}"
    argv = [
        binary("prometheus-blackbox-exporter"),
        f"--config.file={config}",
        f"--web.listen-address={address}",
    ]
    with _process(argv, workdir / "blackbox.log", f"http://{address}/-/healthy"):
        yield address


@dataclass(frozen=True)
class Prometheus:
    url: str

    def _get(self, path: str, **params: str) -> Any:
        response = httpx.get(f"{self.url}{path}", params=params, timeout=10)
        body = response.json()
        if body.get("status") != "success":
            raise PromQLError(f"{params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self._get("/api/v1/query", query=expr)
        result: list[dict[str, Any]] = data["result"]
        return result

    def alerts(self) -> dict[str, str]:
        """Alert name -> "pending" or "firing" (inactive alerts are absent)."""
        states: dict[str, str] = {}
        for alert in self._get("/api/v1/alerts")["alerts"]:
            name = alert["labels"]["alertname"]
            if states.get(name) != "firing":
                states[name] = alert["state"]
        return states

    def targets_up(self) -> dict[str, float]:
        return {
            r["metric"]["job"]: float(r["value"][1]) for r in self.query("up")
        }


class PromQLError(RuntimeError):
    """Prometheus refused a query (a parse error, a bad function, ...)."""


@contextmanager
def prometheus(
    config: dict[str, Any], rule_files: dict[str, str], workdir: Path
) -> Iterator[Prometheus]:
    """Run Prometheus with `config`; `rule_files` (name -> text) are written and loaded."""
    for name, text in rule_files.items():
        (workdir / name).write_text(text)
    config = {**config, "rule_files": [str(workdir / name) for name in rule_files]}
    config_file = workdir / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    check = subprocess.run(
        [binary("promtool"), "check", "config", str(config_file)],
        capture_output=True, text=True, check=False,
    )
    if check.returncode:
        raise RuntimeError(f"promtool check config: {check.stdout}{check.stderr}")
    port = free_port()
    argv = [
        binary("prometheus"),
        f"--config.file={config_file}",
        f"--storage.tsdb.path={workdir / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=1h",
        "--log.level=warn",
    ]
    url = f"http://127.0.0.1:{port}"
    with _process(argv, workdir / "prometheus.log", f"{url}/-/ready"):
        yield Prometheus(url)
