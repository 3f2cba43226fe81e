"""`/config`: remote app configuration (minimum app version, feature flags, ...)."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.responses import Response

from service import examples
from service.endpoints import Access, Call, Endpoint
from service.jsonresponse import json_response
from service.schemas import ConfigEntryResult, ConfigPath, ConfigResult, JsonValue


async def get_config(call: Call) -> Response:
    async with call.services.autocommit.connect() as connection:
        rows = (await connection.execute(call.services.queries.read_config)).all()
    return json_response({"success": True, "data": {row.key: row.value for row in rows}})


async def put_config(call: Call) -> Response:
    path: ConfigPath = call.path
    params = {
        "key": path.key,
        "value": call.body,
        "updated_at": datetime.now(UTC),
        "updated_by": call.user.subject,
    }
    async with call.services.autocommit.connect() as connection:
        await connection.execute(call.services.queries.upsert_config, params)
    return json_response({"success": True, "data": {"key": path.key, "value": call.body}})


ENDPOINTS = [
    Endpoint(
        "GET",
        "/config",
        get_config,
        summary="Read the remote app configuration",
        access=Access.PUBLIC,
        status=200,
        response=ConfigResult,
        tag="config",
        errors=(429, 503),
        examples=examples.CONFIG_READ,
    ),
    Endpoint(
        "PUT",
        "/config/{key}",
        put_config,
        summary="Set one configuration value (the body is the value: any JSON)",
        access=Access.ADMIN,
        status=200,
        response=ConfigEntryResult,
        tag="config",
        path_model=ConfigPath,
        body=JsonValue,
        errors=(400, 401, 403, 413, 422, 429, 503),
        examples=examples.CONFIG_WRITE,
    ),
]
