"""Errors the panel answers on purpose, each rendered as a page that says what went wrong."""

from __future__ import annotations


class PanelError(Exception):
    status = 400
    title = "Request refused"

    def __init__(self, message: str, *, title: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if title is not None:
            self.title = title
        if status is not None:
            self.status = status


class BadRequest(PanelError):
    status, title = 400, "Request refused"


class Forbidden(PanelError):
    status, title = 403, "Not allowed"


class NotFound(PanelError):
    status, title = 404, "Not found"


class TooLarge(PanelError):
    status, title = 413, "Upload too large"


class Unavailable(PanelError):
    status, title = 503, "Unavailable"


class SignInFailed(PanelError):
    status, title = 400, "Sign-in failed"
