"""JSON responses rendered with orjson (the request path's serializer)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

JSON_MEDIA_TYPE = "application/json"


def json_bytes(content: Any) -> bytes:
    return orjson.dumps(content, option=orjson.OPT_UTC_Z)


def json_response(
    content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        json_bytes(content),
        status_code=status_code,
        headers=headers,
        media_type=JSON_MEDIA_TYPE,
    )
