"""Erasing a user as the service's callers do it: the API's `DELETE /me` and `DELETE
/users/{id}`, and the admin panel. One function, so the two cannot drift apart.

The erasure itself is `service.erasure.erase_user`; around it the user's "seen" note is
dropped before and after: a note taken before the erasure (by this request or the user's own
last one) and flushed after it would bring the user row back.
"""

from __future__ import annotations

from service.erasure import Erased, erase_user
from service.services import Services


async def erase_account(services: Services, user_id: str, *, actor: str | None) -> Erased:
    """Erase everything stored about `user_id`; `actor` is the administrator (audited) or
    None when users erase themselves."""
    services.seen.forget(user_id)
    erased = await erase_user(services.engine, user_id, actor=actor)
    services.seen.forget(user_id)
    return erased
