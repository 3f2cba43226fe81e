"""`/config`: remote app configuration (minimum app version, feature flags, ...)."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.responses import Response

from service import audit, examples
from service.endpoints import Access, Call, Endpoint
from service.jsonresponse import json_response
from service.models import config
from service.schemas import ConfigEntryResult, ConfigPath, ConfigResult, JsonValue


async def get_config(call: Call) -> Response:
    async with call.services.autocommit.connect() as connection:
        rows = (await connection.execute(call.services.queries.read_config)).all()
    return json_response({"success": True, "data": {row.key: row.value for row in rows}})


async def put_config(call: Call) -> Response:
    path: ConfigPath = call.path
    now = datetime.now(UTC)
    params = {
        "key": path.key,
        "value": call.body,
        "updated_at": now,
        "updated_by": call.user.subject,
    }
    async with call.services.engine.begin() as connection:
        before = await audit.held_row(connection, config, config.c.key, path.key)
        await connection.execute(call.services.queries.upsert_config, params)
        await audit.record(
            connection,
            at=now,
            actor=call.user.subject,
            action=audit.CONFIG_SET,
            target=path.key,
            before=audit.config_snapshot(before),
            after={"value": call.body},
        )
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
        summary="Set one configuration value (the body is the value: any JSON; audited)",
        description=(
            "The change is recorded in the audit log (who, when, the value before and after) "
            "in the same transaction."
        ),
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
