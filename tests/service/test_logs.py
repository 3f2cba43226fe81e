"""Log lines: JSON, one per record, no tracebacks or exception messages."""

from __future__ import annotations

import logging
import sys

import orjson

from service.logs import REQUEST_ID, AccessLog, JsonFormatter


def test_exceptions_are_reduced_to_their_type() -> None:
    logger = logging.getLogger("test.logs")
    try:
        raise ValueError("password=hunter2 in SELECT ...")
    except ValueError:
        record = logger.makeRecord(
            "test.logs",
            logging.ERROR,
            __file__,
            1,
            "failed: %s",
            ("x",),
            exc_info=sys.exc_info(),
        )
    token = REQUEST_ID.set("req-1")
    try:
        line = JsonFormatter().format(record)
    finally:
        REQUEST_ID.reset(token)
    assert "\n" not in line
    body = orjson.loads(line)
    assert body["message"] == "failed: x" and body["level"] == "error"
    assert body["error_type"] == "ValueError" and body["request_id"] == "req-1"
    assert "hunter2" not in line and "Traceback" not in line


def test_access_log_buffers_and_flushes_whole_lines() -> None:
    written: list[bytes] = []
    log = AccessLog(written.append)
    log.write({"route": "/map", "status": 200})  # no running loop: written at once
    log.write({"route": "/map", "status": 201})
    assert len(written) == 2
    lines = [orjson.loads(line) for chunk in written for line in chunk.splitlines()]
    assert [line["status"] for line in lines] == [200, 201]
    assert all(line["logger"] == "service.access" and line["ts"].endswith("Z") for line in lines)
    AccessLog(written.append, enabled=False).write({"x": 1})
    assert len(written) == 2


def test_access_log_line_is_one_json_object_with_the_fixed_keys_first() -> None:
    written: list[bytes] = []
    log = AccessLog(written.append)
    fields = {"request_id": "r1", "route": None, "status": 200, "duration_ms": 1.5, "x": "é\"\n"}
    log.write(fields)
    log.write({})
    log.write({"message": "mine", "status": 500})  # a fixed key given: the caller's value wins
    lines = b"".join(written).splitlines()
    assert len(lines) == 3
    first, empty, overridden = (orjson.loads(line) for line in lines)
    assert list(first) == ["ts", "level", "logger", "message", *fields]
    assert first == {**first, **fields, "level": "info", "message": "request"}
    assert lines[0] == orjson.dumps(first)
    assert list(empty) == ["ts", "level", "logger", "message"]
    assert overridden["message"] == "mine" and overridden["status"] == 500
