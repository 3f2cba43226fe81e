"""`python -m service serve` as a real process on a free port, for end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.postgres import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def serve(env: Mapping[str, str], workdir: Path, *, timeout: float = 30.0) -> Iterator[str]:
    """Migrate, then serve; yield the base URL once `/heartbeat` answers 200."""
    port = free_port()
    full_env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **env}
    subprocess.run(
        [sys.executable, "-m", "service", "migrate"],
        cwd=workdir,
        env=full_env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    log = (workdir / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "serve", "--port", str(port)],
        cwd=workdir,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {(workdir / 'serve.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{base_url}/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not become healthy")
            time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
