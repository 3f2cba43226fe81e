"""Users and their maps, and analytics events: read-only."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from service.admin import data
from service.admin.errors import NotFound
from service.admin.forms import page_number, query_text
from service.admin.panel import page, panel_of
from service.admin.render import render
from service.admin.views_erasure import erased_notice
from service.models import EVENT_NAME_LENGTH, SUBJECT_LENGTH


async def users_view(request: Request) -> Response:
    search = query_text(request, "q", SUBJECT_LENGTH)
    number = page_number(request)
    async with panel_of(request).services.autocommit.connect() as connection:
        result = await data.paginate(connection, data.user_list(search), number)
    return render(request, "users.html", title="Users", page=result, q=search,
                  erased=erased_notice(request))


async def user_view(request: Request) -> Response:
    subject: str = request.path_params["subject"]
    if "\x00" in subject or len(subject) > SUBJECT_LENGTH:
        raise NotFound("There is no such user.")
    async with panel_of(request).services.autocommit.connect() as connection:
        row = await data.user(connection, subject)
        states = await data.user_map(connection, subject)
    if row is None and not states:
        raise NotFound(f"There is no user {subject[:80]!r}.")
    return render(request, "user.html", title=f"User {subject}", user=row, subject=subject,
                  states=states)


async def events_view(request: Request) -> Response:
    name = query_text(request, "name", EVENT_NAME_LENGTH)
    user = query_text(request, "user", SUBJECT_LENGTH)
    number = page_number(request)
    async with panel_of(request).services.autocommit.connect() as connection:
        result = await data.paginate(connection, data.event_list(name, user), number)
    return render(request, "events.html", title="Events", page=result, name=name, user=user)


ROUTES = [
    ("/admin/users", page(users_view), ["GET"]),
    ("/admin/users/{subject:path}", page(user_view), ["GET"]),
    ("/admin/events", page(events_view), ["GET"]),
]
