"""A fake Cloud SQL Admin v1 and Cloud Storage JSON v1 API on loopback, for ops.backups' tests.

Speaks the endpoints' real paths and JSON shapes (instances, backupRuns, databases, clone,
patch, delete, operations, buckets), answers errors in Google's `{"error": {...}}` form,
rejects a request without the expected bearer token with 401, records every request, and
behaves as Cloud SQL does where the drill depends on it: operations go PENDING -> RUNNING ->
DONE over a few polls, a clone copies the source's settings (deletion protection included),
and a deletion-protected instance cannot be deleted.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "t"
PAGE_SIZE = 2


@dataclass
class Recorded:
    method: str
    path: str
    body: dict[str, Any] | None


@dataclass
class FakeGoogle:
    project: str
    instances: dict[str, dict[str, Any]] = field(default_factory=dict)
    backup_runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    databases: dict[str, list[str]] = field(default_factory=dict)
    buckets: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    # How the next clone behaves: polls until DONE, an operation error, the clone's final state.
    clone_polls: int = 3
    clone_error: str | None = None
    clone_state: str = "RUNNABLE"
    clone_databases: list[str] | None = None
    busy_answers: int = 0  # this many PATCH/DELETE requests get 409 (an operation in progress)
    _operations: dict[str, dict[str, Any]] = field(default_factory=dict)
    _on_done: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def calls(self, method: str | None = None) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests if method in (None, r.method)]

    # --- operations ---------------------------------------------------------------------

    def _operation(
        self, kind: str, target: str, on_done: Any, error: str | None = None, polls: int = 1
    ) -> dict[str, Any]:
        name = f"op-{len(self._operations) + 1}"
        operation = {
            "kind": "sql#operation",
            "name": name,
            "operationType": kind,
            "targetId": target,
            "targetProject": self.project,
            "status": "PENDING",
            "polls_left": polls,
            "error_message": error,
        }
        self._operations[name] = operation
        self._on_done[name] = on_done
        return self._public(operation)

    @staticmethod
    def _public(operation: dict[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in operation.items() if k not in ("polls_left", "error_message")}
        if operation["status"] == "DONE" and operation["error_message"]:
            shown["error"] = {
                "kind": "sql#operationErrors",
                "errors": [{"code": "INTERNAL_ERROR", "message": operation["error_message"]}],
            }
        return shown

    def _poll(self, name: str) -> dict[str, Any] | None:
        operation = self._operations.get(name)
        if operation is None:
            return None
        if operation["status"] != "DONE":
            operation["polls_left"] -= 1
            operation["status"] = "RUNNING"
            if operation["polls_left"] <= 0:
                operation["status"] = "DONE"
                self._on_done.pop(name)()
        return self._public(operation)

    # --- the API ------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Any:
        """(status, JSON) for one request."""
        sql = re.fullmatch(rf"/v1/projects/{re.escape(self.project)}/(.+)", path)
        bucket = re.fullmatch(r"/storage/v1/b/([^/]+)", path)
        if bucket and method == "GET":
            found = self.buckets.get(bucket[1])
            return (200, found) if found else _error(404, "The specified bucket does not exist.")
        if not sql:
            return _error(404, f"no such resource {path}")
        rest = sql[1]
        if m := re.fullmatch(r"operations/([^/]+)", rest):
            operation = self._poll(m[1])
            return (200, operation) if operation else _error(404, "operation not found")
        m = re.fullmatch(r"instances/([^/]+)(?:/(backupRuns|databases|clone))?", rest)
        if not m:
            return _error(404, f"no such resource {path}")
        name, sub = m[1], m[2]
        instance = self.instances.get(name)
        if instance is None:
            return _error(404, f"The Cloud SQL instance does not exist: {name}")
        if sub == "backupRuns" and method == "GET":
            runs = self.backup_runs.get(name, [])
            start = int(query.get("pageToken", ["0"])[0])
            page: dict[str, Any] = {
                "kind": "sql#backupRunsList",
                "items": runs[start : start + PAGE_SIZE],
            }
            if start + PAGE_SIZE < len(runs):
                page["nextPageToken"] = str(start + PAGE_SIZE)
            return 200, page
        if sub == "databases" and method == "GET":
            items = [{"kind": "sql#database", "name": n} for n in self.databases.get(name, [])]
            return 200, {"kind": "sql#databasesList", "items": items}
        if sub == "clone" and method == "POST":
            return self._clone(name, instance, body or {})
        if sub is None and method == "GET":
            return 200, instance
        if sub is None and method in ("PATCH", "DELETE") and self.busy_answers > 0:
            self.busy_answers -= 1
            return _error(
                409, "Operation failed because another operation was already in progress."
            )
        if sub is None and method == "PATCH":
            settings = (body or {}).get("settings", {})
            instance["settings"].update(copy.deepcopy(settings))
            return 200, self._operation("UPDATE", name, lambda: None)
        if sub is None and method == "DELETE":
            if instance["settings"].get("deletionProtectionEnabled"):
                return _error(
                    400,
                    "The instance is protected from deletion. Disable deletion protection "
                    "and try again.",
                )
            return 200, self._operation("DELETE", name, lambda: self.instances.pop(name, None))
        return _error(405, f"{method} not supported on {path}")

    def _clone(self, source: str, instance: dict[str, Any], body: dict[str, Any]) -> Any:
        context = body.get("cloneContext") or {}
        target = context.get("destinationInstanceName")
        if not target or not context.get("pointInTime"):
            return _error(400, "cloneContext needs destinationInstanceName and pointInTime")
        if target in self.instances:
            return _error(409, f"instance {target} already exists")
        clone = copy.deepcopy(instance)
        clone.update(name=target, state="PENDING_CREATE")
        self.instances[target] = clone
        self.databases[target] = list(
            self.databases.get(source, []) if self.clone_databases is None else self.clone_databases
        )

        def done() -> None:
            clone["state"] = "FAILED" if self.clone_error else self.clone_state

        return 200, self._operation("CLONE", target, done, self.clone_error, self.clone_polls)


def _error(status: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"code": status, "message": message, "errors": [{"message": message}]}}


def _handler(fake: FakeGoogle) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            with fake._lock:
                fake.requests.append(Recorded(self.command, url.path, body))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    status, answer = _error(401, "Request had invalid authentication credentials.")
                else:
                    status, answer = fake.handle(self.command, url.path, parse_qs(url.query), body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextmanager
def serve(fake: FakeGoogle) -> Iterator[FakeGoogle]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
