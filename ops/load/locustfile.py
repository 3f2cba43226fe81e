"""Locust load profile of the mobile app: `python -m ops.load URL ...` (or `locust -f` this file).

Each simulated user is one app install with its own token. The mix mirrors what the app does
in a session: mostly progress writes (POST /map) and reads (GET /map), some catalogue reads
(GET /practices), analytics batches (POST /events) and the occasional heartbeat, with a
think time between actions. A response that is not what the contract promises counts as a
failure even when its status is 2xx.

Environment (set by ops.load):
- `LOAD_TOKENS_FILE`: one bearer token per line, handed to users round-robin (required).
- `LOAD_PRACTICE_IDS`: comma-separated practice ids that POST /map may refer to (required).
- `LOAD_WAIT_SECONDS`: think time range `MIN-MAX` (default `0.5-2.0`).
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import random
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, task

MAX_EVENTS_PER_BATCH = 20


def _tokens() -> list[str]:
    path = os.environ.get("LOAD_TOKENS_FILE")
    if not path:
        raise RuntimeError("LOAD_TOKENS_FILE is not set: one bearer token per line")
    tokens = [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
    if not tokens:
        raise RuntimeError(f"{path} holds no tokens")
    return tokens


def _practice_ids() -> list[str]:
    ids = [p.strip() for p in os.environ.get("LOAD_PRACTICE_IDS", "").split(",") if p.strip()]
    if not ids:
        raise RuntimeError("LOAD_PRACTICE_IDS is not set: comma-separated practice ids")
    return ids


def _wait_range() -> tuple[float, float]:
    low, _, high = os.environ.get("LOAD_WAIT_SECONDS", "0.5-2.0").partition("-")
    return float(low), float(high or low)


def subject_of(token: str) -> str:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return str(claims["sub"])


TOKENS = _tokens()
PRACTICE_IDS = _practice_ids()
_next_token = itertools.cycle(range(len(TOKENS)))
_token_lock = threading.Lock()


class MobileAppUser(FastHttpUser):
    wait_time = between(*_wait_range())

    def on_start(self) -> None:
        with _token_lock:
            token = TOKENS[next(_next_token)]
        self.user_id = subject_of(token)
        self.headers = {"Authorization": f"Bearer {token}", "User-Agent": "awaterra-ops-load/1"}
        self.progress: dict[str, float] = {}

    def _check(self, response: Any, expect_status: int = 200) -> dict[str, Any] | None:
        if response.status_code != expect_status:
            response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
            return None
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            response.failure("response is not JSON")
            return None
        return body

    @task(10)
    def save_progress(self) -> None:
        practice = random.choice(PRACTICE_IDS)
        progress = min(1.0, self.progress.get(practice, 0.0) + random.uniform(0.05, 0.25))
        self.progress[practice] = progress
        body = {
            "userId": self.user_id,
            "practiceData": {
                "practiceId": practice,
                "status": "completed" if progress >= 1.0 else "in_progress",
                "progress": round(progress, 3),
                "updatedAt": datetime.now(UTC).isoformat(),
                "state": {"position": random.randint(0, 3600), "device": "load-test"},
            },
        }
        with self.client.post(
            "/map", json=body, headers=self.headers, name="POST /map", catch_response=True
        ) as response:
            data = self._check(response)
            if data is not None and data.get("success") is not True:
                response.failure("POST /map: success is not true")

    @task(8)
    def load_map(self) -> None:
        with self.client.get(
            "/map", headers=self.headers, name="GET /map", catch_response=True
        ) as response:
            data = self._check(response)
            if data is not None and data.get("data", {}).get("userId") != self.user_id:
                response.failure("GET /map answered for another user")

    @task(2)
    def browse_practices(self) -> None:
        with self.client.get(
            "/practices", headers=self.headers, name="GET /practices", catch_response=True
        ) as response:
            data = self._check(response)
            if data is not None and data.get("success") is not True:
                response.failure("GET /practices: success is not true")

    @task(2)
    def send_analytics(self) -> None:
        now = datetime.now(UTC).isoformat()
        events = [
            {
                "name": random.choice(["screen_view", "practice_started", "tap"]),
                "occurredAt": now,
                "properties": {"seq": i},
            }
            for i in range(random.randint(1, MAX_EVENTS_PER_BATCH))
        ]
        with self.client.post(
            "/events",
            json={"events": events},
            headers=self.headers,
            name="POST /events",
            catch_response=True,
        ) as response:
            data = self._check(response, expect_status=202)
            if data is not None and data.get("data", {}).get("accepted") != len(events):
                response.failure("POST /events did not accept the whole batch")

    @task(1)
    def heartbeat(self) -> None:
        with self.client.get("/heartbeat", name="GET /heartbeat", catch_response=True) as response:
            data = self._check(response)
            if data is not None and data.get("status") != "ok":
                response.failure(f"heartbeat status {data.get('status')!r}")
