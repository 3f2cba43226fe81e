"""Request and response examples for every operation, as the OpenAPI document shows them.

Each endpoint declares an `Examples`: its request body and parameters, its success answers,
and the errors it most often gives, written as the `ApiError` the handler raises (so an
example error body is exactly what the server sends). `tests/service/test_openapi.py`
validates every example against the operation's own schemas; schemathesis replays them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from service import __version__
from service.errors import (
    ApiError,
    Forbidden,
    Internal,
    MalformedJson,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    Unavailable,
    ValidationFailed,
    error_body,
)

MIB = 1024 * 1024
UPLOAD_CONTENT_TYPE_NOTE = (
    "**The signature covers `Content-Type`:** S3 refuses a `PUT` with any other Content-Type, "
    "or none, with its own 403 `SignatureDoesNotMatch` XML error (not this API's JSON); the "
    "local file store refuses it too, naming the header it expects."
)


@dataclass(frozen=True)
class Examples:
    request: Any = None
    parameters: Mapping[str, str] = field(default_factory=dict)
    responses: Mapping[int, Any] = field(default_factory=dict)
    errors: Mapping[int, ApiError] = field(default_factory=dict)


# Errors every operation can give, unless it declares a more telling one.
COMMON_ERRORS: Mapping[int, ApiError] = {
    400: MalformedJson(),
    401: Unauthorized(),
    403: Forbidden("this operation needs an admin"),
    404: NotFound(),
    405: MethodNotAllowed(),
    413: PayloadTooLarge(MIB),
    422: ValidationFailed(details=[{"field": "body", "message": "Field required"}]),
    429: RateLimited(1),
    500: Internal(),
    503: Unavailable(),
}

USER = "user-123"
PRACTICE = "breathing-101"
MEDIA_KEY = f"practices/{PRACTICE}/3f0c6b2a9d4e4f1a8b7c6d5e4f3a2b1c"
WHEN = "2026-03-01T08:30:00Z"
SERVER_WHEN = "2026-03-01T08:30:01.204Z"
STATE = {
    "userId": USER,
    "practiceId": PRACTICE,
    "status": "in_progress",
    "progress": 0.4,
    "state": {"step": 3, "lastPosition": 128.5},
    "updatedAt": WHEN,
    "serverUpdatedAt": SERVER_WHEN,
}
PRACTICE_BODY = {
    "title": "Morning breathing",
    "description": "Ten minutes of box breathing to start the day.",
    "durationSeconds": 600,
    "category": "breathing",
    "published": True,
    "mediaKey": MEDIA_KEY,
}
MEDIA_URL = (
    f"https://awaterra-media.s3.eu-west-1.amazonaws.com/{MEDIA_KEY}"
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=900&X-Amz-SignedHeaders=host"
    "&X-Amz-Signature=5d1c..."
)
UPLOAD_URL = (
    f"https://awaterra-media.s3.eu-west-1.amazonaws.com/{MEDIA_KEY}"
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=900"
    "&X-Amz-SignedHeaders=content-type%3Bhost&X-Amz-Signature=9a7e..."
)
PRACTICE_ANSWER = {
    "id": PRACTICE,
    **PRACTICE_BODY,
    "mediaUrl": MEDIA_URL,
    "createdAt": "2026-02-20T10:00:00Z",
    "updatedAt": "2026-02-27T16:45:12Z",
}
MAP_PROGRESS = ValidationFailed(
    details=[
        {"field": "practiceData.progress", "message": "Input should be less than or equal to 1"}
    ]
)
CHECK_OK = {"status": "ok", "latencyMs": 0.84}

HEARTBEAT = Examples(
    responses={
        200: {
            "status": "ok",
            "version": __version__,
            "uptimeSeconds": 5123.402,
            "checks": {"database": CHECK_OK, "storage": {"status": "ok", "latencyMs": 12.3}},
        },
        503: {
            "status": "fail",
            "version": __version__,
            "uptimeSeconds": 5123.402,
            "checks": {
                "database": {"status": "fail", "latencyMs": None, "error": "timed out"},
                "storage": {"status": "ok", "latencyMs": 12.3},
            },
        },
    },
)

MAP_WRITE = Examples(
    request={
        "userId": USER,
        "practiceData": {
            "practiceId": PRACTICE,
            "status": "in_progress",
            "progress": 0.4,
            "updatedAt": WHEN,
            "state": {"step": 3, "lastPosition": 128.5},
        },
    },
    responses={200: {"success": True, "applied": True, "data": STATE}},
    errors={
        403: Forbidden("you may only write your own map"),
        404: NotFound(f"no practice {PRACTICE!r}"),
        422: MAP_PROGRESS,
    },
)

MAP_READ = Examples(
    parameters={"userId": USER},
    responses={200: {"success": True, "data": {"userId": USER, "practices": [STATE]}}},
    errors={
        403: Forbidden("you may only read your own map"),
        422: ValidationFailed(
            "invalid query parameters",
            details=[{"field": "userId", "message": "given more than once"}],
        ),
    },
)

PRACTICE_LIST = Examples(
    responses={200: {"success": True, "data": {"practices": [PRACTICE_ANSWER]}}},
)

PRACTICE_READ = Examples(
    parameters={"id": PRACTICE},
    responses={200: {"success": True, "data": PRACTICE_ANSWER}},
    errors={
        404: NotFound(f"no practice {PRACTICE!r}"),
        422: ValidationFailed(
            "invalid path parameters",
            details=[
                {
                    "field": "id",
                    "message": "String should match pattern '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'",
                }
            ],
        ),
    },
)

PRACTICE_WRITE = Examples(
    request=PRACTICE_BODY,
    parameters={"id": PRACTICE},
    responses={
        200: {"success": True, "data": PRACTICE_ANSWER},
        201: {
            "success": True,
            "data": {**PRACTICE_ANSWER, "updatedAt": PRACTICE_ANSWER["createdAt"]},
        },
    },
    errors={
        404: NotFound(
            f"no media object {MEDIA_KEY!r}: upload it first (POST /practices/{PRACTICE}/media)"
        ),
        422: ValidationFailed(
            details=[{"field": "durationSeconds", "message": "Input should be a valid integer"}]
        ),
        503: Unavailable("the media store is unavailable"),
    },
)

MEDIA_UPLOAD = Examples(
    request={"contentType": "audio/mpeg"},
    parameters={"id": PRACTICE},
    responses={
        200: {
            "success": True,
            "data": {
                "uploadUrl": UPLOAD_URL,
                "mediaKey": MEDIA_KEY,
                "expiresInSeconds": 900,
                "uploadHeaders": {"Content-Type": "audio/mpeg"},
            },
            "uploadUrl": UPLOAD_URL,
            "mediaKey": MEDIA_KEY,
        }
    },
    errors={
        404: NotFound(f"no practice {PRACTICE!r}"),
        422: ValidationFailed(
            details=[
                {
                    "field": "contentType",
                    "message": "String should match pattern "
                    "'^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$'",
                }
            ]
        ),
        503: Unavailable("the media store is unavailable"),
    },
)

EVENTS = Examples(
    request={
        "events": [
            {
                "name": "practice.started",
                "occurredAt": WHEN,
                "properties": {"practiceId": PRACTICE, "source": "home"},
            },
            {"name": "app.opened", "occurredAt": "2026-03-01T08:29:41Z"},
        ]
    },
    responses={202: {"success": True, "data": {"accepted": 2}}},
    errors={
        422: ValidationFailed(
            details=[
                {
                    "field": "events",
                    "message": "List should have at least 1 item after validation, not 0",
                }
            ]
        ),
    },
)

CONFIG_READ = Examples(
    responses={
        200: {
            "success": True,
            "data": {"minAppVersion": "2.4.0", "features": {"newPlayer": True, "streaks": False}},
        }
    },
)

CONFIG_WRITE = Examples(
    request="2.4.0",
    parameters={"key": "minAppVersion"},
    responses={200: {"success": True, "data": {"key": "minAppVersion", "value": "2.4.0"}}},
    errors={
        422: ValidationFailed(
            "invalid path parameters",
            details=[
                {
                    "field": "key",
                    "message": "String should match pattern '^[A-Za-z][A-Za-z0-9_.-]{0,63}$'",
                }
            ],
        ),
    },
)

EXPORT = Examples(
    responses={
        200: {
            "success": True,
            "data": {
                "userId": USER,
                "firstSeenAt": "2026-01-12T19:02:11.000Z",
                "lastSeenAt": SERVER_WHEN,
                "practices": [STATE],
                "events": [
                    {
                        "name": "practice.started",
                        "occurredAt": WHEN,
                        "receivedAt": SERVER_WHEN,
                        "properties": {"practiceId": PRACTICE, "source": "home"},
                    }
                ],
            },
        }
    },
)

ERASE_ME = Examples()

ERASE_USER = Examples(
    parameters={"id": USER},
    errors={
        422: ValidationFailed(
            "invalid path parameters",
            details=[{"field": "id", "message": "String should have at most 255 characters"}],
        ),
    },
)


def error_example(examples: Examples | None, status: int) -> dict[str, Any]:
    """The body the server sends for `status`: the endpoint's own error, else the common one."""
    error = (examples.errors.get(status) if examples else None) or COMMON_ERRORS[status]
    return error_body(error.code, error.message, error.details)
