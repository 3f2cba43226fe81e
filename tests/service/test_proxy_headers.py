"""Which client address the service believes behind the load balancer."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from service.__main__ import TRUSTED_PROXY_NETWORKS


def _client_seen(peer: str, forwarded_for: str) -> str:
    seen: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen["client"] = scope["client"][0]

    middleware = ProxyHeadersMiddleware(app, trusted_hosts=TRUSTED_PROXY_NETWORKS)  # type: ignore[arg-type]
    scope = {
        "type": "http", "scheme": "http", "client": (peer, 50000),
        "headers": [(b"x-forwarded-for", forwarded_for.encode())],
    }
    asyncio.run(middleware(scope, None, None))  # type: ignore[arg-type]
    return str(seen["client"])


def test_the_address_the_load_balancer_appended_is_used_not_one_the_client_wrote() -> None:
    # The ALB node (a VPC address) appends the real peer; "6.6.6.6" was written by the client.
    assert _client_seen("10.0.1.5", "6.6.6.6, 198.51.100.7") == "198.51.100.7"


def test_a_client_talking_directly_cannot_choose_its_address() -> None:
    assert _client_seen("203.0.113.9", "10.0.0.1") == "203.0.113.9"
