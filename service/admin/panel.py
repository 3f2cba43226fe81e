"""What the panel's pages share: the service's parts, the session codec, the sign-in mode."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from service.admin.config import AdminSettings
from service.admin.errors import Forbidden, PanelError
from service.admin.forms import read_form
from service.admin.oidc import OidcClient
from service.admin.security import refuse_cross_origin, refuse_declared_too_large
from service.admin.session import Session, SessionCodec
from service.services import Services

Mode = Literal["local", "oidc", "off"]
View = Callable[[Request], Awaitable[Response]]


class NotConfigured(PanelError):
    status, title = 503, "Admin panel not configured"


class NotAdmin(PanelError):
    status, title = 403, "Administrators only"


@dataclass(frozen=True)
class Panel:
    services: Services
    settings: AdminSettings
    environment: str
    codec: SessionCodec
    oidc: OidcClient | None
    mode: Mode


def panel_of(request: Request) -> Panel:
    panel: Panel = request.app.state.panel
    return panel


def session_of(request: Request) -> Session:
    session: Session = request.state.session
    return session


def form_of(request: Request) -> FormData:
    form: FormData = request.state.form
    return form


def actor_of(request: Request) -> str:
    subject = session_of(request).subject
    assert subject is not None
    return subject


def refuse_when_off(panel: Panel) -> None:
    if panel.mode == "off":
        raise NotConfigured(
            f"The admin panel is not configured for ENVIRONMENT={panel.environment}: "
            "set ADMIN_OIDC_CLIENT_ID (and ADMIN_SESSION_KEY) to sign in through the "
            "issuer. The API is not affected."
        )


async def _check_post(request: Request, panel: Panel, session: Session) -> FormData:
    refuse_cross_origin(request, panel.settings.base_url)
    refuse_declared_too_large(request, panel.settings.max_upload_bytes)
    form = await read_form(request)
    request.state.form = form
    token = form.get("csrf_token")
    if session.fresh or not isinstance(token, str) or not hmac.compare_digest(
        token, session.csrf
    ):
        raise Forbidden(
            "The form's security token is missing or belongs to another session "
            "(perhaps the page was open before you signed in again). Nothing was changed; "
            "reload the page and try again."
        )
    return form


def page(view: View, *, sign_in: bool = True) -> View:
    """`view` behind the panel's rules: configured, CSRF on POST, an administrator signed in."""

    async def endpoint(request: Request) -> Response:
        panel = panel_of(request)
        refuse_when_off(panel)
        session = panel.codec.load(request)
        request.state.session = session
        form: FormData | None = None
        try:
            if request.method == "POST":
                form = await _check_post(request, panel, session)
            if sign_in and not session.signed_in:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                response: Response = RedirectResponse(
                    f"/admin/login?next={quote(target, safe='/')}", status_code=303
                )
            elif sign_in and not session.is_admin:
                raise NotAdmin(
                    f"You are signed in as {session.subject}, who is not an administrator "
                    "(the token needs the admin group or the admin claim). Sign out and sign "
                    "in as an administrator."
                )
            else:
                response = await view(request)
        finally:
            if form is not None:
                await form.close()
        outgoing = getattr(request.state, "session_out", None)
        if outgoing == "clear":
            panel.codec.clear(request, response)
        elif isinstance(outgoing, Session):
            panel.codec.store(request, response, outgoing)
        elif session.fresh:
            panel.codec.store(request, response, session)
        return response

    return endpoint
