"""Request and response shapes: the single source of both validation and the OpenAPI document.

Bodies are camelCase, strict (no type coercion), closed (unknown fields are errors). Every
piece of text refuses NUL characters, which PostgreSQL cannot store, and the JSON Schema says
so, so a client generated from the document never sends what the server refuses.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel

NO_NUL = r"^[^\x00]*$"
PRACTICE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
CONFIG_KEY_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"
EVENT_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.:-]{0,99}$"
# A storage key: slash-separated segments starting with a letter or digit, never "..".
_KEY_SEGMENT = r"[A-Za-z0-9](?:[A-Za-z0-9_-]|\.[A-Za-z0-9_-])*\.?"
MEDIA_KEY_PATTERN = f"^{_KEY_SEGMENT}(?:/{_KEY_SEGMENT})*$"
CONTENT_TYPE_PATTERN = r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$"
# Years 1000..9899: wide enough for any real timestamp, and far enough from Python's datetime
# limits that converting any offset to UTC cannot overflow.
DATE_TIME_YEARS = r"^(1[0-9]{3}|[2-8][0-9]{3}|9[0-8][0-9]{2})-"
MIN_YEAR, MAX_YEAR = 1000, 9899
MAX_STATE_BYTES = 16 * 1024
MAX_JSON_DEPTH = 32
# JSON numbers are bounded so they survive every JSON library on the way (orjson, JavaScript).
JSON_NUMBER_LIMIT = 9.2e18
MAX_EVENTS_PER_BATCH = 500

JSON_VALUE_REF = "#/components/schemas/JsonValue"
# Field schemas carry this marker; the OpenAPI builder turns it into a $ref to JsonValue
# (pydantic cannot resolve references to schemas it did not generate itself).
JSON_VALUE_MARKER = "x-awaterra-json-value"
JSON_VALUE_SCHEMA: dict[str, Any] = {
    "description": "Any JSON value; text without NUL characters, numbers within ±9.2e18.",
    "anyOf": [
        {"type": "null"},
        {"type": "boolean"},
        {"type": "number", "minimum": -JSON_NUMBER_LIMIT, "maximum": JSON_NUMBER_LIMIT},
        {"type": "string", "pattern": NO_NUL},
        {"type": "array", "items": {"$ref": JSON_VALUE_REF}},
        {
            "type": "object",
            "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": {JSON_VALUE_MARKER: True},
        },
    ],
}


def _check_json(value: Any, path: str, depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"{path or 'value'} is nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{path or 'value'} contains a NUL character")
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float):
        if not math.isfinite(value) or abs(value) > JSON_NUMBER_LIMIT:
            raise ValueError(f"{path or 'value'} is outside ±{JSON_NUMBER_LIMIT:g}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json(item, f"{path}[{index}]", depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                raise ValueError(f"a key in {path or 'value'} contains a NUL character")
            _check_json(item, f"{path}.{key}" if path else key, depth + 1)
    else:  # pragma: no cover - JSON parsing produces nothing else
        raise ValueError(f"{path or 'value'} is not JSON")


def checked_json(value: Any) -> Any:
    _check_json(value, "", 0)
    return value


def checked_state(value: dict[str, Any]) -> dict[str, Any]:
    checked_json(value)
    if len(orjson.dumps(value)) > MAX_STATE_BYTES:
        raise ValueError(f"state is larger than {MAX_STATE_BYTES} bytes of JSON")
    return value


def whole_number(value: Any) -> Any:
    """JSON Schema counts 60.0 as an integer; so do we (strict mode alone would not)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def utc_timestamp(value: datetime) -> datetime:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"year must be between {MIN_YEAR} and {MAX_YEAR}")
    return value.astimezone(UTC)


JsonValue = Annotated[Any, AfterValidator(checked_json), WithJsonSchema({JSON_VALUE_MARKER: True})]
JsonObject = Annotated[
    dict[str, Any],
    AfterValidator(checked_json),
    WithJsonSchema(
        {
            "type": "object",
            "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": {JSON_VALUE_MARKER: True},
        }
    ),
]
StateObject = Annotated[
    dict[str, Any],
    AfterValidator(checked_state),
    WithJsonSchema(
        {
            "type": "object",
            "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": {JSON_VALUE_MARKER: True},
            "description": f"At most {MAX_STATE_BYTES} bytes of JSON.",
        }
    ),
]
Timestamp = Annotated[
    AwareDatetime,
    AfterValidator(utc_timestamp),
    Field(json_schema_extra={"pattern": DATE_TIME_YEARS}),
]
UserId = Annotated[str, Field(min_length=1, max_length=255, pattern=NO_NUL)]
PracticeId = Annotated[str, Field(pattern=PRACTICE_ID_PATTERN)]
ConfigKey = Annotated[str, Field(pattern=CONFIG_KEY_PATTERN)]
Status = Literal["not_started", "in_progress", "completed"]


def _text(max_length: int, min_length: int = 0) -> Any:
    return Field(min_length=min_length, max_length=max_length, pattern=NO_NUL)


class Model(BaseModel):
    """camelCase on the wire, strict types, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=False,
        extra="forbid",
        strict=True,
        frozen=True,
    )


# ---- requests ---------------------------------------------------------------------------


class PracticeData(Model):
    practice_id: PracticeId
    status: Status
    progress: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
    updated_at: Timestamp = Field(description="Client time of the change; the newest one wins.")
    state: StateObject = Field(default_factory=dict)


class MapWrite(Model):
    user_id: UserId
    practice_data: PracticeData


class MapQuery(Model):
    user_id: UserId | None = Field(default=None, description="Admins only: whose map to read.")


class PracticePath(Model):
    id: PracticeId


class ConfigPath(Model):
    key: ConfigKey


class PracticeWrite(Model):
    title: Annotated[str, _text(200, 1)]
    description: Annotated[str, _text(10_000)]
    duration_seconds: Annotated[int, Field(ge=0, le=86_400), BeforeValidator(whole_number)]
    category: Annotated[str, _text(64, 1)]
    published: bool
    media_key: Annotated[str, Field(max_length=512, pattern=MEDIA_KEY_PATTERN)] | None = None


class MediaUploadRequest(Model):
    content_type: Annotated[str, Field(pattern=CONTENT_TYPE_PATTERN)] = "application/octet-stream"


class Event(Model):
    name: Annotated[str, Field(pattern=EVENT_NAME_PATTERN)]
    occurred_at: Timestamp
    properties: JsonObject = Field(default_factory=dict)


class EventBatch(Model):
    events: Annotated[list[Event], Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)]


# ---- responses ----------------------------------------------------------------------------


class StoredState(Model):
    user_id: str
    practice_id: str
    status: Status
    progress: float
    state: JsonObject
    updated_at: datetime
    server_updated_at: datetime


class MapWriteResult(Model):
    success: Literal[True]
    applied: bool = Field(description="False when a newer write was already stored.")
    data: StoredState


class UserMap(Model):
    user_id: str
    practices: list[StoredState]


class MapReadResult(Model):
    success: Literal[True]
    data: UserMap


class Practice(Model):
    id: str
    title: str
    description: str
    duration_seconds: int
    category: str
    published: bool
    media_key: str | None
    media_url: str | None = Field(description="Short-lived signed download URL of the media.")
    created_at: datetime
    updated_at: datetime


class PracticeResult(Model):
    success: Literal[True]
    data: Practice


class PracticeList(Model):
    practices: list[Practice]


class PracticeListResult(Model):
    success: Literal[True]
    data: PracticeList


class MediaUpload(Model):
    upload_url: str = Field(description="`PUT` the file here, with `uploadHeaders`.")
    media_key: str = Field(description="Store it on the practice once the upload is done.")
    expires_in_seconds: int = Field(description="How long `uploadUrl` is valid.")
    upload_headers: dict[str, str] = Field(
        description="Headers the upload (`PUT uploadUrl`) must carry, exactly: the signature "
        "covers `Content-Type`, and S3 refuses a PUT whose Content-Type differs from the signed "
        "one (403 `SignatureDoesNotMatch`)."
    )


class MediaUploadResult(Model):
    """The usual envelope, with the contract's bare `{uploadUrl, mediaKey}` beside it."""

    success: Literal[True]
    data: MediaUpload
    upload_url: str
    media_key: str


class Accepted(Model):
    accepted: int


class EventsResult(Model):
    success: Literal[True]
    data: Accepted


class ExportedEvent(Model):
    name: str
    occurred_at: datetime
    received_at: datetime
    properties: JsonObject


class UserExport(Model):
    user_id: str
    first_seen_at: datetime | None = Field(description="Null when nothing is recorded.")
    last_seen_at: datetime | None
    practices: list[StoredState]
    events: list[ExportedEvent] = Field(description="Oldest first (by arrival).")


class ExportResult(Model):
    success: Literal[True]
    data: UserExport


class UserPath(Model):
    id: UserId


class ConfigResult(Model):
    success: Literal[True]
    data: Annotated[
        dict[str, Any],
        WithJsonSchema({"type": "object", "additionalProperties": {JSON_VALUE_MARKER: True}}),
    ]


class ConfigEntry(Model):
    key: str
    value: JsonValue


class ConfigEntryResult(Model):
    success: Literal[True]
    data: ConfigEntry


class Check(Model):
    status: Literal["ok", "fail"]
    latency_ms: float | None
    error: str | None = None


class Checks(Model):
    database: Check
    storage: Check


class Heartbeat(Model):
    status: Literal["ok", "fail"]
    version: str
    uptime_seconds: float
    checks: Checks


class ErrorDetail(Model):
    field: str
    message: str


class ErrorInfo(Model):
    code: Literal[
        "malformed_json",
        "validation_error",
        "unauthorized",
        "forbidden",
        "not_found",
        "method_not_allowed",
        "payload_too_large",
        "rate_limited",
        "unavailable",
        "internal",
    ]
    message: str
    details: list[ErrorDetail] | None = None


class ErrorResult(Model):
    success: Literal[False]
    error: ErrorInfo
