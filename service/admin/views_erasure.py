"""Erasing a user's data: a confirmation page that says what would go, then the erasure.

The erasure is the API's (`DELETE /users/{id}`): `service.account_erasure.erase_account`, with
the signed-in administrator as the audited actor. A user with nothing stored can be erased
too (the erasure is still recorded), as the API allows.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from service.account_erasure import erase_account
from service.admin import data
from service.admin.errors import NotFound
from service.admin.panel import actor_of, page, panel_of
from service.admin.render import query, render
from service.erasure import Erased
from service.models import SUBJECT_LENGTH
from service.schemas import UserPath

ERASE_PATH = "/admin/erase/"


def erase_path(subject: str) -> str:
    return ERASE_PATH + quote(subject, safe="")


def _subject(request: Request) -> str:
    raw: str = request.path_params["subject"]
    try:
        return UserPath.model_validate({"id": raw}).id
    except ValidationError:
        raise NotFound(
            f"There is no user {raw[:80]!r}: a user ID is 1 to {SUBJECT_LENGTH} characters "
            "with no NUL character. Nothing was erased."
        ) from None


def counts(practice_states: int, events: int, user_rows: int) -> dict[str, int]:
    """The shape of the audit row's `before` (what the erasure deleted, rows per table)."""
    return Erased(practice_states, events, user_rows).counts()


async def confirm(request: Request) -> Response:
    subject = _subject(request)
    async with panel_of(request).services.autocommit.connect() as connection:
        stored = await data.stored_about(connection, subject)
    return render(
        request,
        "user_erase.html",
        title=f"Erase user {subject}",
        section="/admin/users",
        subject=subject,
        stored=stored,
        counts=counts(stored.practice_states, stored.events, int(stored.user_row)),
    )


async def erase(request: Request) -> Response:
    subject = _subject(request)
    erased = await erase_account(panel_of(request).services, subject, actor=actor_of(request))
    notice: dict[str, Any] = {
        "erased": subject,
        "states": erased.practice_states,
        "events": erased.events,
        "user_rows": erased.user_rows,
    }
    return RedirectResponse(f"/admin/users?{query(**notice)}", status_code=303)


def erased_notice(request: Request) -> dict[str, Any] | None:
    """The users list's notice after an erasure, from the redirect's query (None without)."""
    params = request.query_params
    subject = params.get("erased", "")
    numbers = [params.get(name, "") for name in ("states", "events", "user_rows")]
    if not subject or not all(number.isdigit() and len(number) <= 18 for number in numbers):
        return None
    states, events, user_rows = (int(number) for number in numbers)
    return {
        "subject": subject[:SUBJECT_LENGTH].replace("\x00", ""),
        "counts": counts(states, events, user_rows),
    }


ROUTES = [
    (ERASE_PATH + "{subject:path}", page(confirm), ["GET"]),
    (ERASE_PATH + "{subject:path}", page(erase), ["POST"]),
]
