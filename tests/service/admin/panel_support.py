"""What the admin panel's tests share: live panels, sign-in, axe, screenshots, test media."""

from __future__ import annotations

import asyncio
import os
import re
import struct
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import httpx

from service.app import ServiceApp
from service.settings import Settings

T = TypeVar("T")

CHROMIUM = "/usr/bin/chromium"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
UPLOAD_LIMIT_BYTES = 256 * 1024
ADMIN_CLIENT_ID = "awaterra-admin"
API_AUDIENCE = "awaterra-mobile"
LINKS = {
    "Dashboard": "https://app.datadoghq.com/dashboard/abc-123",
    "SLO: availability": "https://app.datadoghq.com/slo?slo_id=def456",
    "API docs": "https://api.example.test/docs",
}
SCREENSHOT_DIR = os.environ.get("ADMIN_SCREENSHOTS")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def wav_bytes(seconds: float = 0.1) -> bytes:
    """A real (silent) PCM WAV file."""
    rate, samples = 8000, int(8000 * seconds)
    data = b"\x00\x00" * samples
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    return header + fmt + b"data" + struct.pack("<I", len(data)) + data


def with_upload_limit(settings: Settings, limit: int = UPLOAD_LIMIT_BYTES) -> Settings:
    return replace(settings, admin=replace(settings.admin, max_upload_bytes=limit))


@dataclass
class LivePanel:
    url: str
    app: ServiceApp


def in_thread(run: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on a loop of its own thread (the browser's sync API owns this one)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(run())  # type: ignore[arg-type]
        except BaseException as error:
            box["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def http_sign_in(base_url: str, user: str = "http-admin", admin: bool = True) -> httpx.Client:
    """An httpx client signed in through the local form (for tests no browser needs)."""
    client = httpx.Client(base_url=base_url, follow_redirects=False, timeout=10)
    page = client.get("/admin/login")
    assert page.status_code == 200, page.text
    form = {"csrf_token": csrf_of(page.text), "user": user, "next": "/admin"}
    if admin:
        form["admin"] = "on"
    answer = client.post("/admin/login", data=form, headers={"Origin": base_url})
    assert answer.status_code == 303, answer.text
    return client


def screenshot_path(name: str) -> Path | None:
    if not SCREENSHOT_DIR:
        return None
    directory = Path(SCREENSHOT_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{name}.png"
