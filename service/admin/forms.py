"""Reading what a browser sent: forms, files and query parameters, refused cleanly when bad."""

from __future__ import annotations

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from service.admin.errors import BadRequest

NUL_MESSAGE = "contains a NUL character, which cannot be stored"
MAX_PAGE = 100_000


async def read_form(request: Request) -> FormData:
    # One file at most (the practice's media); other fields within 1 MiB each.
    return await request.form(max_files=1, max_fields=32, max_part_size=1024 * 1024)


def field(form: FormData, name: str) -> str:
    """A text field's value ('' when absent); a file where text belongs is refused."""
    value = form.get(name)
    if value is None:
        return ""
    if isinstance(value, UploadFile):
        raise BadRequest(f"The field {name!r} must be text, not a file.")
    return value


def file_field(form: FormData, name: str) -> UploadFile | None:
    value = form.get(name)
    if isinstance(value, UploadFile) and value.filename:
        return value
    return None


def nul_errors(form: FormData) -> dict[str, str]:
    return {
        name: f"This field {NUL_MESSAGE}."
        for name, value in form.multi_items()
        if isinstance(value, str) and "\x00" in value
    }


def query_text(request: Request, name: str, max_length: int = 255) -> str:
    value = request.query_params.get(name, "")
    if "\x00" in value:
        raise BadRequest(f"The filter {name!r} {NUL_MESSAGE}.")
    if len(value) > max_length:
        raise BadRequest(f"The filter {name!r} is longer than {max_length} characters.")
    return value.strip()


def page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise BadRequest(f"The page must be a whole number from 1 to {MAX_PAGE}.")
    return int(raw)


def next_path(raw: str | None) -> str:
    """Where to go after signing in: a panel path of this origin, never another site."""
    if (
        not raw
        or not raw.startswith("/admin")
        or raw.startswith("//")
        or "\\" in raw
        or any(ord(char) < 32 for char in raw)
    ):
        return "/admin"
    return raw
