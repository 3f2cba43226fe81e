"""The generated rules on a real Prometheus, scraping the real service under steady traffic.

PostgreSQL (a throwaway cluster of this test's own, so the suite's shared one is untouched) is
stopped: the availability burn-rate alerts, the 5xx alert and the heartbeat probe (Debian's
blackbox exporter) fire; it is started again: they resolve. A delaying TCP proxy in front of
PostgreSQL then slows every query: the latency alert fires. Every query of every Grafana
dashboard panel is run against the same Prometheus and must parse and return data.

The rules are the generator's, with every window and `for:` divided by SCALE (60), so an hour
is a minute; the measured delays are printed and kept as test properties (docs/observability.md
lists them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from components.prometheus_rules import (
    blackbox_document,
    render,
    rules_document,
    stack_rules_document,
)
from components.prometheus_scrape import api_job, heartbeat_job
from tests.support.delay_proxy import DelayProxy
from tests.support.live_service import REPO_ROOT, serve
from tests.support.postgres import PostgresCluster, destroy_cluster, start_cluster
from tests.support.prometheus import Prometheus, blackbox_exporter, prometheus

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SCALE = 60
SCRAPE_SECONDS = 1
HEARTBEAT_SCRAPE_SECONDS = 2  # the probe's timeout (1 s, heartbeat_max_response_ms) fits in it
EVALUATION_SECONDS = 1
DB_DELAY_SECONDS = 0.3
DASHBOARD = REPO_ROOT / "ops" / "grafana" / "dashboards" / "awaterra-api.json"
OUTAGE_ALERTS = (
    "HeartbeatFailing",
    "AvailabilityBudgetFastBurn",
    "AvailabilityBudgetSlowBurn",
    "ApiErrorRateHigh",
)
# The longest each may take at SCALE, from the rule: its `for:` (or the time the error ratio
# needs to cross the threshold in its window), plus a scrape and two evaluations (recording
# rule, then alert), plus the service's own reaction (the heartbeat's cached check, the pool
# noticing the database is gone) and slack for two shared CPUs.
FIRE_WITHIN = {
    "HeartbeatFailing": 120 / SCALE + HEARTBEAT_SCRAPE_SECONDS + 2 * EVALUATION_SECONDS + 6,
    "AvailabilityBudgetFastBurn": SCRAPE_SECONDS + 2 * EVALUATION_SECONDS + 6,
    "AvailabilityBudgetSlowBurn": SCRAPE_SECONDS + 2 * EVALUATION_SECONDS + 6,
    "ApiErrorRateHigh": SCRAPE_SECONDS + 2 * EVALUATION_SECONDS + 6,
    "ApiLatencyP95High": SCRAPE_SECONDS + 2 * EVALUATION_SECONDS + 8,
}
# Resolving waits for the short window to be clean: 5 min (fast burn), 10 min (5xx), 30 min
# (slow burn) at SCALE, after the service has reconnected.
RESOLVE_WITHIN = {
    "HeartbeatFailing": HEARTBEAT_SCRAPE_SECONDS + 2 * EVALUATION_SECONDS + 12,
    "AvailabilityBudgetFastBurn": 300 / SCALE + 2 * EVALUATION_SECONDS + 12,
    "ApiErrorRateHigh": 600 / SCALE + 2 * EVALUATION_SECONDS + 12,
    "AvailabilityBudgetSlowBurn": 1800 / SCALE + 2 * EVALUATION_SECONDS + 15,
}


@dataclass
class Traffic:
    """Steady requests from a few threads: reads, a 404, map writes (as the app makes)."""

    base_url: str
    token: str
    practice: str
    statuses: list[int] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _run(self, number: int) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        n = 0
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=10) as client:
            while not self._stop.is_set():
                n += 1
                try:
                    if n % 10 == 0:
                        response = client.get("/practices/no-such-practice")
                    elif n % 3 == 0:
                        response = client.post("/map", json=_map_write(self.practice, number, n))
                    else:
                        response = client.get("/practices")
                    self.statuses.append(response.status_code)
                except httpx.TransportError:
                    self.statuses.append(0)
                time.sleep(0.03)

    def __enter__(self) -> Traffic:
        for number in range(4):
            thread = threading.Thread(target=self._run, args=(number,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)


def _map_write(practice: str, number: int, n: int) -> dict[str, object]:
    return {
        "userId": f"e2e-{number}",
        "practiceData": {
            "practiceId": practice,
            "status": "in_progress",
            "progress": 0.5,
            "updatedAt": f"2026-01-01T00:{n // 60 % 60:02d}:{n % 60:02d}+00:00",
            "state": {"n": n},
        },
    }


def _wait(
    condition: Callable[[], bool], within: float, what: str, poll: float = 0.25
) -> float:
    """Seconds until `condition()` holds; fail after `within`."""
    started = time.monotonic()
    while not condition():
        elapsed = time.monotonic() - started
        if elapsed > within:
            pytest.fail(f"{what} not within {within:g} s")
        time.sleep(poll)
    return time.monotonic() - started


def _wait_each(
    prom: Prometheus, names: tuple[str, ...], want_firing: bool, within: dict[str, float]
) -> dict[str, float]:
    started = time.monotonic()
    seen: dict[str, float] = {}
    deadline = started + max(within[name] for name in names)
    while len(seen) < len(names):
        states = prom.alerts()
        now = time.monotonic() - started
        for name in names:
            firing = states.get(name) == "firing"
            if name not in seen and firing == want_firing:
                seen[name] = round(now, 1)
        late = [n for n in names if n not in seen and now > within[n]]
        if late or time.monotonic() > deadline:
            pytest.fail(
                f"{'firing' if want_firing else 'resolved'} too late: {late or names}; "
                f"states {states}, seen {seen}"
            )
        time.sleep(0.25)
    return seen


def _dashboard_queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        if panel["type"] != "row"
        for target in panel["targets"]
    ]


def _grafana_variables(expr: str) -> str:
    """What Grafana substitutes: all jobs and routes, a rate interval of four scrapes."""
    return (
        expr.replace("$__rate_interval", f"{4 * SCRAPE_SECONDS}s")
        .replace("$job", ".+")
        .replace("$route", ".+")
    )


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[PostgresCluster]:
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        destroy_cluster(cluster)


def _token(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "service", "token", "e2e-admin", "--admin"],
        env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=True,
    )
    return done.stdout.strip()


def test_alerts_fire_and_resolve_on_a_real_prometheus(
    own_cluster: PostgresCluster, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    own_cluster.create_database("prometheus_e2e")
    workdir = tmp_path / "service"
    workdir.mkdir()
    with DelayProxy(("127.0.0.1", own_cluster.port)) as proxy:
        env = {
            "ENVIRONMENT": "local",
            "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{proxy.port}/prometheus_e2e",
            "DATA_DIR": str(workdir),
            "LOG_LEVEL": "warning",
            "DB_POOL_SIZE": "5",
        }
        with serve(env, workdir) as base_url:
            token = _token({**os.environ, **env})
            practice = "e2e-practice"
            put = httpx.put(
                f"{base_url}/practices/{practice}",
                json={"title": "Breathing", "description": "Slow breaths",
                      "durationSeconds": 300, "category": "calm", "published": True},
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            assert put.status_code in (200, 201), put.text
            _run_scenario(own_cluster, proxy, base_url, token, practice, tmp_path, record_property)


def _run_scenario(
    cluster: PostgresCluster,
    proxy: DelayProxy,
    base_url: str,
    token: str,
    practice: str,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    (tmp_path / "blackbox.yml").write_text(render(blackbox_document()))
    host_port = base_url.removeprefix("http://")
    with blackbox_exporter(tmp_path / "blackbox.yml", tmp_path) as blackbox:
        config = {
            "global": {
                "scrape_interval": f"{SCRAPE_SECONDS}s",
                "scrape_timeout": f"{SCRAPE_SECONDS}s",
                "evaluation_interval": f"{EVALUATION_SECONDS}s",
            },
            "scrape_configs": [
                api_job(host_port, f"{SCRAPE_SECONDS}s", f"{SCRAPE_SECONDS}s"),
                heartbeat_job(
                    f"{base_url}/heartbeat", blackbox,
                    f"{HEARTBEAT_SCRAPE_SECONDS}s", f"{HEARTBEAT_SCRAPE_SECONDS}s",
                ),
            ],
        }
        rule_files = {
            "rules.yml": render(rules_document(scale=SCALE)),
            "stack.yml": render(stack_rules_document(min_tasks=1, db_max_connections=300)),
        }
        with prometheus(config, rule_files, tmp_path) as prom, Traffic(
            base_url, token, practice
        ) as traffic:
            _scenario(prom, cluster, proxy, traffic, record_property)


def _scenario(
    prom: Prometheus,
    cluster: PostgresCluster,
    proxy: DelayProxy,
    traffic: Traffic,
    record_property: Callable[[str, object], None],
) -> None:
    # Healthy: both targets up, a p95 on record, and no alert at all for a while.
    _wait(lambda: prom.targets_up() == {"awaterra-api": 1.0, "awaterra-heartbeat": 1.0}, 20,
          "both targets up")
    _wait(lambda: bool(prom.query('probe_success{job="awaterra-heartbeat"} == 1')), 20,
          "a successful heartbeat probe")
    _wait(lambda: not prom.alerts(), 20, "no alert under healthy traffic")
    time.sleep(6)
    assert prom.alerts() == {}, "an alert fired on a healthy service"
    assert 200 in traffic.statuses and 404 in traffic.statuses

    # The database goes away.
    cluster.stop("fast")
    fired = _wait_each(prom, OUTAGE_ALERTS, want_firing=True, within=FIRE_WITHIN)
    assert 503 in traffic.statuses
    assert "ApiLatencyP95High" not in prom.alerts()

    # ... and comes back.
    cluster.start()
    resolved = _wait_each(prom, OUTAGE_ALERTS, want_firing=False, within=RESOLVE_WITHIN)

    # Every Grafana panel's query parses and has data (5xx, 4xx and writes are on record now).
    empty = []
    for title, expr in _dashboard_queries():
        if not prom.query(_grafana_variables(expr)):
            empty.append((title, expr))
    assert not empty, f"dashboard queries without data: {empty}"

    # Every query of the database now waits DB_DELAY_SECONDS: the p95 goes above 200 ms.
    proxy.delay_seconds = DB_DELAY_SECONDS
    try:
        latency = _wait_each(
            prom, ("ApiLatencyP95High",), want_firing=True, within=FIRE_WITHIN
        )
    finally:
        proxy.delay_seconds = 0.0
    delays = {
        "scale": SCALE,
        "fired_after_seconds": {**fired, **latency},
        "resolved_after_seconds": resolved,
    }
    record_property("prometheus_alert_delays", json.dumps(delays))
    print(f"\nprometheus e2e (rules at 1/{SCALE} of real time): {json.dumps(delays)}")
