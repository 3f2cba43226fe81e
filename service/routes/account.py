"""`/me/export`, `DELETE /me`, `DELETE /users/{id}`: a user's data, exported or erased.

Store apps require an app with accounts to let users delete them; GDPR gives users both rights.
"""

from __future__ import annotations

from starlette.responses import Response

from service import examples
from service.account_erasure import erase_account
from service.endpoints import Access, Call, Endpoint
from service.export import ExportResponse, UserExport
from service.schemas import ExportResult, UserPath


async def export_me(call: Call) -> Response:
    export = UserExport(call.services.engine, call.user.subject)
    await export.start()
    return ExportResponse(export)


async def _erase(call: Call, user_id: str, actor: str | None) -> Response:
    await erase_account(call.services, user_id, actor=actor)
    return Response(status_code=204)


async def delete_me(call: Call) -> Response:
    return await _erase(call, call.user.subject, None)


async def delete_user(call: Call) -> Response:
    path: UserPath = call.path
    return await _erase(call, path.id, call.user.subject)


ERASURE_NOTE = (
    "Deletes the user's practice states, events and user row in one transaction. Repeating it "
    "answers 204 again. A write racing the erasure either lands before it (and is erased) or "
    "after it (as a new user's first write)."
)

ENDPOINTS = [
    Endpoint(
        "GET",
        "/me/export",
        export_me,
        summary="Export everything stored about the caller (streamed)",
        description=(
            "One JSON document, streamed as it is read (events oldest first), so it works for a "
            "user with millions of events. It is a consistent snapshot. If the answer breaks off "
            "part way (a lost connection, an outage) the body is not valid JSON: retry."
        ),
        access=Access.USER,
        status=200,
        response=ExportResult,
        tag="account",
        errors=(401, 429, 503),
        examples=examples.EXPORT,
    ),
    Endpoint(
        "DELETE",
        "/me",
        delete_me,
        summary="Erase the caller's data (account deletion)",
        description=ERASURE_NOTE,
        access=Access.USER,
        status=204,
        response=None,
        tag="account",
        errors=(401, 429, 503),
        examples=examples.ERASE_ME,
    ),
    Endpoint(
        "DELETE",
        "/users/{id}",
        delete_user,
        summary="Erase any user's data (admin; audited)",
        description=ERASURE_NOTE
        + " The erasure is recorded in the audit log (who, whom, when, how many rows) in the "
        "same transaction.",
        access=Access.ADMIN,
        status=204,
        response=None,
        tag="account",
        path_model=UserPath,
        errors=(401, 403, 422, 429, 503),
        examples=examples.ERASE_USER,
    ),
]
