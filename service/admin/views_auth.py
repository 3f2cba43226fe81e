"""Signing in and out: the local form (ENVIRONMENT=local only) or the issuer's code flow."""

from __future__ import annotations

import time
from dataclasses import replace

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from service.admin.errors import NotFound, SignInFailed
from service.admin.forms import field, next_path
from service.admin.panel import form_of, page, panel_of, session_of
from service.admin.render import render
from service.admin.security import expected_origin
from service.admin.session import new_session
from service.models import SUBJECT_LENGTH


def redirect_uri(request: Request) -> str:
    return expected_origin(request, panel_of(request).settings.base_url) + "/admin/callback"


async def login(request: Request) -> Response:
    panel = panel_of(request)
    session = session_of(request)
    target = next_path(request.query_params.get("next"))
    if session.signed_in and session.is_admin:
        return RedirectResponse(target, status_code=303)
    if panel.mode == "oidc":
        assert panel.oidc is not None
        url, pending = await panel.oidc.start(redirect_uri(request), target, time.time())
        request.state.session_out = replace(session, pending=pending)
        return RedirectResponse(url, status_code=303)
    return render(request, "login.html", title="Sign in", next=target, errors={}, user="")


async def local_login(request: Request) -> Response:
    if panel_of(request).mode != "local":
        raise NotFound("There is no sign-in form here: sign in through the issuer.")
    form = form_of(request)
    user = field(form, "user").strip()
    target = next_path(field(form, "next"))
    error = None
    if not user:
        error = "Enter a user name."
    elif "\x00" in user:
        error = "The user name contains a NUL character, which cannot be stored."
    elif len(user) > SUBJECT_LENGTH:
        error = f"The user name is longer than {SUBJECT_LENGTH} characters."
    if error is not None:
        return render(
            request,
            "login.html",
            status=400,
            title="Sign in",
            next=target,
            errors={"user": error},
            user=user.replace("\x00", ""),
        )
    # A new session (and CSRF token) on every sign-in: nothing from before carries over.
    request.state.session_out = new_session(subject=user, is_admin=field(form, "admin") == "on")
    return RedirectResponse(target, status_code=303)


async def callback(request: Request) -> Response:
    panel = panel_of(request)
    if panel.mode != "oidc" or panel.oidc is None:
        raise NotFound("Sign-in through an issuer is not configured here.")
    session = session_of(request)
    # Whatever happens next, this sign-in attempt is spent.
    request.state.session_out = replace(session, pending=None)
    params = request.query_params
    try:
        if params.get("error"):
            description = params.get("error_description") or params["error"]
            raise SignInFailed(f"The sign-in provider answered: {description[:200]}.")
        pending = panel.oidc.consume_state(session.pending, params.get("state", ""))
        code = params.get("code", "")
        if not code or len(code) > 2048 or "\x00" in code:
            raise SignInFailed("The sign-in response carries no usable code.")
        principal = await panel.oidc.finish(pending, code, redirect_uri(request))
    except SignInFailed as error:
        return render(
            request, "error.html", status=error.status, title=error.title, message=error.message
        )
    request.state.session_out = new_session(
        subject=principal.subject, is_admin=principal.is_admin
    )
    return RedirectResponse(next_path(pending.next), status_code=303)


async def logout(request: Request) -> Response:
    request.state.session_out = "clear"
    return RedirectResponse("/admin/signed-out", status_code=303)


async def signed_out(request: Request) -> Response:
    return render(request, "signed_out.html", title="Signed out")


ROUTES = [
    ("/admin/login", page(login, sign_in=False), ["GET"]),
    ("/admin/login", page(local_login, sign_in=False), ["POST"]),
    ("/admin/callback", page(callback, sign_in=False), ["GET"]),
    ("/admin/logout", page(logout, sign_in=False), ["POST"]),
    ("/admin/signed-out", page(signed_out, sign_in=False), ["GET"]),
]
