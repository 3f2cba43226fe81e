"""The hot endpoints without Starlette's per-request layers.

`POST /map` and `GET /heartbeat` are most of the traffic. They are dispatched by an exact
(method, path) lookup straight to the same `run_endpoint` the router would call, with the
same error mapping, skipping the exception middlewares and the route scan (about a fifth of
the framework's cost per request). Every other request goes to Starlette unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from service.endpoints import Endpoint, run_endpoint
from service.errors import ApiError, error_response, handle_unexpected


class FastLane:
    def __init__(
        self, app: Starlette, routes: Sequence[Route], endpoints: Sequence[Endpoint]
    ) -> None:
        self.app = app
        route_by_path = {route.path: route for route in routes}
        self.targets: dict[tuple[str, str], tuple[Route, Endpoint]] = {
            (endpoint.method, endpoint.path): (route_by_path[endpoint.path], endpoint)
            for endpoint in endpoints
            if "{" not in endpoint.path
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = (
            self.targets.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        )
        if target is None:
            await self.app(scope, receive, send)
            return
        route, endpoint = target
        # What Starlette's router would have put in the scope (metrics and logs read "route").
        scope["app"] = self.app
        scope["route"] = route
        scope["path_params"] = {}
        request = Request(scope, receive)
        response: Response
        try:
            response = await run_endpoint(endpoint, request)
        except ApiError as error:
            response = error_response(error)
        except Exception as error:
            response = await handle_unexpected(request, error)
        await response(scope, receive, send)
