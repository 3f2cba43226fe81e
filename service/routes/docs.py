"""`/openapi.json` and `/docs`: the generated document and Swagger UI 5, which reads OpenAPI
3.1 as it is. Swagger UI is vendored from the npm package `swagger-ui-dist` into
`service/static/swagger-ui/` (`make vendor-docs-ui`; `manifest.json` records the version and
each file's sha256) and served by the service itself: no CDN."""

from __future__ import annotations

from pathlib import Path

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

ASSETS_PATH = "/docs/assets"
ASSETS_DIR = Path(__file__).resolve().parent.parent / "static" / "swagger-ui"

DOCS_HTML = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>awaterra API</title>
  <link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
  <script>
    // validatorUrl: null, or Swagger UI may ask validator.swagger.io to check the document.
    window.ui = SwaggerUIBundle({{
      url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true, validatorUrl: null
    }});
  </script>
</body>
</html>
"""


def docs_routes(document: dict[str, object]) -> list[BaseRoute]:
    rendered = orjson.dumps(document)

    async def openapi(request: Request) -> Response:
        return Response(rendered, media_type="application/json")

    async def docs(request: Request) -> Response:
        return HTMLResponse(DOCS_HTML)

    return [
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Mount(ASSETS_PATH, app=StaticFiles(directory=ASSETS_DIR), name="docs-assets"),
    ]
