"""`/openapi.json` and `/docs`: the generated document and Swagger UI from the installed
swagger-ui-bundle package (no CDN)."""

from __future__ import annotations

from pathlib import Path

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

ASSETS_PATH = "/docs/assets"

# The bundled Swagger UI (4.x) renders OpenAPI 3.0 only. The page hands it the 3.1 document
# labelled 3.0.3: the schemas used here (no 3.1-only keywords beyond `type: null`, which it
# shows as a plain type) render correctly. /openapi.json itself stays 3.1.
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
    fetch("/openapi.json").then((response) => response.json()).then((spec) => {{
      spec.openapi = "3.0.3";
      // validatorUrl: null, or Swagger UI may ask validator.swagger.io to check the document.
      window.ui = SwaggerUIBundle({{
        spec: spec, dom_id: "#swagger-ui", deepLinking: true, validatorUrl: null
      }});
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
        Mount(
            ASSETS_PATH, app=StaticFiles(directory=Path(str(swagger_ui_path))), name="docs-assets"
        ),
    ]
