"""Remote configuration: every key with its JSON value; set, add or delete one."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from service.admin import data
from service.admin.errors import NotFound
from service.admin.forms import field, nul_errors
from service.admin.panel import actor_of, form_of, page, panel_of
from service.admin.render import render
from service.schemas import ConfigPath, JsonValue

JSON_VALUE: TypeAdapter[Any] = TypeAdapter(JsonValue)


def _key(raw: str) -> str | None:
    try:
        return ConfigPath.model_validate({"key": raw}).key
    except ValidationError:
        return None


async def _page(
    request: Request, key: str, value: str, errors: dict[str, str], *, status: int = 200
) -> Response:
    async with panel_of(request).services.autocommit.connect() as connection:
        entries = await data.config_entries(connection)
    return render(
        request,
        "config.html",
        status=status,
        title="Config",
        entries=entries,
        key=key,
        value=value,
        errors=errors,
        saved=request.query_params.get("saved", "")[:64],
        deleted=request.query_params.get("deleted", "")[:64],
    )


async def list_view(request: Request) -> Response:
    key = request.query_params.get("key", "")
    value = ""
    if key:
        checked = _key(key)
        if checked is None:
            raise NotFound(f"There is no config key {key[:80]!r}.")
        async with panel_of(request).services.autocommit.connect() as connection:
            entry = await data.config_entry(connection, checked)
        if entry is None:
            raise NotFound(f"There is no config key {checked!r}.")
        value = orjson.dumps(entry.value, option=orjson.OPT_INDENT_2).decode()
    return await _page(request, key, value, {})


def parse_value(raw: str) -> tuple[Any, str | None]:
    if not raw.strip():
        return None, "Enter a JSON value, for example 42, \"text\", true, null or {\"a\": 1}."
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        return None, f"This is not valid JSON: {str(error).split(':')[0]}."
    try:
        return JSON_VALUE.validate_python(parsed), None
    except ValidationError as error:
        reason = error.errors()[0]["msg"].removeprefix("Value error, ")
        return None, f"This JSON cannot be stored: {reason}."


async def save(request: Request) -> Response:
    form = form_of(request)
    errors = nul_errors(form)
    key_text = field(form, "key").strip()
    value_text = field(form, "value")
    key = None
    if "key" not in errors:
        key = _key(key_text)
        if key is None:
            errors["key"] = (
                "Use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter."
            )
    value = None
    if "value" not in errors:
        value, problem = parse_value(value_text)
        if problem:
            errors["value"] = problem
    if errors or key is None:
        clean = key_text.replace("\x00", ""), value_text.replace("\x00", "")
        return await _page(request, clean[0], clean[1], errors, status=400)
    services = panel_of(request).services
    async with services.engine.begin() as connection:
        await data.save_config(
            connection, services.queries.upsert_config, key, value, actor_of(request)
        )
    return RedirectResponse(f"/admin/config?saved={key}", status_code=303)


async def _entry(request: Request) -> Any:
    key = _key(request.path_params["key"])
    if key is None:
        raise NotFound(f"There is no config key {request.path_params['key'][:80]!r}.")
    async with panel_of(request).services.autocommit.connect() as connection:
        entry = await data.config_entry(connection, key)
    if entry is None:
        raise NotFound(f"There is no config key {key!r}.")
    return entry


async def confirm_delete(request: Request) -> Response:
    entry = await _entry(request)
    return render(request, "config_delete.html", title=f"Delete config key {entry.key}",
                  entry=entry)


async def delete(request: Request) -> Response:
    entry = await _entry(request)
    async with panel_of(request).services.engine.begin() as connection:
        await data.delete_config(connection, entry, actor_of(request))
    return RedirectResponse(f"/admin/config?deleted={entry.key}", status_code=303)


ROUTES = [
    ("/admin/config", page(list_view), ["GET"]),
    ("/admin/config", page(save), ["POST"]),
    ("/admin/config/{key}/delete", page(confirm_delete), ["GET"]),
    ("/admin/config/{key}/delete", page(delete), ["POST"]),
]
