"""The 405 `Allow` header: the same, sorted order from every process."""

from __future__ import annotations

import pytest
from starlette.exceptions import HTTPException
from starlette.requests import Request

from service.errors import handle_http_exception

pytestmark = pytest.mark.anyio


async def test_allow_header_is_sorted_whatever_order_starlette_gives() -> None:
    request = Request({"type": "http", "method": "DELETE", "path": "/map", "headers": []})
    response = await handle_http_exception(
        request, HTTPException(405, headers={"Allow": "POST, HEAD, GET"})
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, POST"
