"""Practices: list, search, publish filter, the one create/edit form, media, deletion."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from service.admin import data
from service.admin.errors import BadRequest, NotFound
from service.admin.forms import field, file_field, nul_errors, page_number, query_text
from service.admin.media import ALLOWED_DESCRIPTION, MediaRefused, media_key, recognise
from service.admin.panel import actor_of, form_of, page, panel_of
from service.admin.render import render
from service.admin.security import format_size
from service.routes.practices import MEDIA_URL_SECONDS
from service.schemas import PracticePath, PracticeWrite
from service.storage import InvalidStorageKey, StorageUnavailable

FIELDS = {  # form field -> the API's field (PracticeWrite, camelCase)
    "title": "title",
    "description": "description",
    "duration_seconds": "durationSeconds",
    "category": "category",
}
PUBLISHED_FILTERS = {"": None, "yes": True, "no": False}


def _practice_id(raw: str) -> str:
    try:
        return PracticePath.model_validate({"id": raw}).id
    except ValidationError:
        raise NotFound(f"There is no practice {raw[:80]!r}.") from None


async def list_view(request: Request) -> Response:
    search = query_text(request, "q", 200)
    published_text = request.query_params.get("published", "")
    if published_text not in PUBLISHED_FILTERS:
        raise BadRequest("The published filter must be empty, 'yes' or 'no'.")
    number = page_number(request)
    async with panel_of(request).services.autocommit.connect() as connection:
        result = await data.paginate(
            connection, data.practice_list(search, PUBLISHED_FILTERS[published_text]), number
        )
    return render(
        request,
        "practices.html",
        title="Practices",
        page=result,
        q=search,
        published=published_text,
        deleted=request.query_params.get("deleted", "")[:64],
    )


def _form_values(row: Any) -> dict[str, str]:
    if row is None:
        return {"id": "", "title": "", "description": "", "duration_seconds": "",
                "category": "", "published": ""}
    return {
        "id": row.id,
        "title": row.title,
        "description": row.description,
        "duration_seconds": str(row.duration_seconds),
        "category": row.category,
        "published": "on" if row.published else "",
    }


async def _media_link(request: Request, row: Any) -> str | None:
    if row is None or row.media_key is None:
        return None
    try:
        url = await panel_of(request).services.storage.presign_download(
            row.media_key, MEDIA_URL_SECONDS
        )
    except StorageUnavailable:
        return None
    return str(request.base_url).rstrip("/") + url if url.startswith("/") else url


async def _form_page(
    request: Request,
    row: Any,
    values: dict[str, str],
    errors: dict[str, str],
    *,
    status: int = 200,
) -> Response:
    creating = row is None
    return render(
        request,
        "practice_form.html",
        status=status,
        title="New practice" if creating else f"Practice {row.id}",
        creating=creating,
        practice=row,
        values=values,
        errors=errors,
        media_url=await _media_link(request, row),
        allowed_media=ALLOWED_DESCRIPTION,
        max_upload=format_size(panel_of(request).settings.max_upload_bytes),
        saved=request.query_params.get("saved") == "1" and request.method == "GET",
    )


async def new_view(request: Request) -> Response:
    return await _form_page(request, None, _form_values(None), {})


async def _load(request: Request) -> Any:
    practice_id = _practice_id(request.path_params["practice_id"])
    async with panel_of(request).services.autocommit.connect() as connection:
        row = await data.practice(connection, practice_id)
    if row is None:
        raise NotFound(f"There is no practice {practice_id!r}.")
    return row


async def edit_view(request: Request) -> Response:
    row = await _load(request)
    return await _form_page(request, row, _form_values(row), {})


def _validate(form: FormData, creating: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """The columns to write, or the error beside each field (the API's own rules)."""
    errors = nul_errors(form)
    values: dict[str, Any] = {}
    if creating and "id" not in errors:
        try:
            values["id"] = PracticePath.model_validate({"id": field(form, "id").strip()}).id
        except ValidationError:
            errors["id"] = (
                "Use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit."
            )
        if values.get("id") == "new":
            errors["id"] = "'new' names the form for a new practice; choose another ID."
            values.pop("id")
    duration_text = field(form, "duration_seconds").strip()
    body: dict[str, Any] = {
        "title": field(form, "title").strip(),
        "description": field(form, "description"),
        "category": field(form, "category").strip(),
        "published": field(form, "published") == "on",
        "durationSeconds": int(duration_text) if duration_text.isdigit() else -1,
    }
    if not duration_text.isdigit() and "duration_seconds" not in errors:
        errors["duration_seconds"] = "Enter a whole number of seconds from 0 to 86400."
    try:
        write = PracticeWrite.model_validate(body)
    except ValidationError as error:
        by_api_name = {api: name for name, api in FIELDS.items()}
        for item in error.errors(include_url=False, include_input=False):
            name = by_api_name.get(str(item["loc"][0]), str(item["loc"][0]))
            errors.setdefault(name, _message(name, item["type"], item["msg"]))
        return values, errors
    values.update(
        title=write.title,
        description=write.description,
        duration_seconds=write.duration_seconds,
        category=write.category,
        published=write.published,
    )
    return values, errors


def _message(name: str, kind: str, fallback: str) -> str:
    limits = {"title": 200, "description": 10_000, "category": 64}
    if kind == "string_too_short":
        return "This field is required."
    if kind == "string_too_long":
        return f"Use at most {limits.get(name, 0)} characters."
    if name == "duration_seconds":
        return "Enter a whole number of seconds from 0 to 86400."
    return fallback


def _typed(form: FormData) -> dict[str, str]:
    """What was typed, kept for the form shown again (NUL characters dropped)."""
    keys = ("id", "title", "description", "duration_seconds", "category", "published")
    return {key: field(form, key).replace("\x00", "") for key in keys}


async def _save(request: Request, row: Any) -> Response:
    panel = panel_of(request)
    form = form_of(request)
    creating = row is None
    values, errors = _validate(form, creating)
    upload = file_field(form, "media")
    kind = None
    if upload is not None:
        try:
            kind = await recognise(upload, panel.settings.max_upload_bytes)
        except MediaRefused as error:
            errors["media"] = str(error)
    if errors:
        return await _form_page(request, row, _typed(form), errors, status=400)
    practice_id = values["id"] if creating else row.id
    if creating:
        async with panel.services.autocommit.connect() as connection:
            if await data.practice(connection, practice_id) is not None:
                errors["id"] = "A practice with this ID already exists."
                return await _form_page(request, row, _typed(form), errors, status=400)
    if upload is not None and kind is not None:
        key = media_key(practice_id, kind)
        try:
            await panel.services.storage.put(key, upload.file, kind.content_type)
        except InvalidStorageKey:
            errors["media"] = "This practice's ID cannot name a media file; nothing was saved."
            return await _form_page(request, row, _typed(form), errors, status=400)
        except StorageUnavailable:
            errors["media"] = "The media store is unavailable; nothing was saved. Try again."
            return await _form_page(request, row, _typed(form), errors, status=503)
        values["media_key"] = key
    elif creating:
        values["media_key"] = None
    try:
        async with panel.services.engine.begin() as connection:
            if creating:
                await data.create_practice(connection, values, actor_of(request))
            else:
                await data.update_practice(connection, row, values, actor_of(request))
    except IntegrityError:
        errors["id"] = "A practice with this ID already exists."
        return await _form_page(request, row, _typed(form), errors, status=400)
    panel.services.practice_list.clear()
    return RedirectResponse(f"/admin/practices/{practice_id}?saved=1", status_code=303)


async def create(request: Request) -> Response:
    return await _save(request, None)


async def update(request: Request) -> Response:
    return await _save(request, await _load(request))


async def confirm_delete(request: Request) -> Response:
    row = await _load(request)
    async with panel_of(request).services.autocommit.connect() as connection:
        progress = await data.progress_count(connection, row.id)
    return render(
        request, "practice_delete.html", title=f"Delete practice {row.id}", practice=row,
        progress=progress,
    )


async def delete(request: Request) -> Response:
    row = await _load(request)
    async with panel_of(request).services.engine.begin() as connection:
        await data.delete_practice(connection, row, actor_of(request))
    panel_of(request).services.practice_list.clear()
    return RedirectResponse(
        f"/admin/practices?deleted={row.id}", status_code=303
    )


ROUTES = [
    ("/admin/practices", page(list_view), ["GET"]),
    ("/admin/practices/new", page(new_view), ["GET"]),
    ("/admin/practices/new", page(create), ["POST"]),
    ("/admin/practices/{practice_id}", page(edit_view), ["GET"]),
    ("/admin/practices/{practice_id}", page(update), ["POST"]),
    ("/admin/practices/{practice_id}/delete", page(confirm_delete), ["GET"]),
    ("/admin/practices/{practice_id}/delete", page(delete), ["POST"]),
]
