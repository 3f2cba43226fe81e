"""The OpenAPI 3.1 document, generated from the declared endpoints and their pydantic models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from service import __version__
from service.endpoints import Access, Endpoint
from service.examples import Examples, error_example
from service.schemas import JSON_VALUE_MARKER, JSON_VALUE_REF, JSON_VALUE_SCHEMA, ErrorResult

REF_TEMPLATE = "#/components/schemas/{model}"

ERROR_DESCRIPTIONS = {
    400: "Malformed JSON (`malformed_json`)",
    401: "Missing, expired or forged token (`unauthorized`)",
    403: "Someone else's data, or admin only (`forbidden`)",
    404: "No such resource (`not_found`)",
    405: "Method not allowed (`method_not_allowed`, with `Allow`)",
    413: "Body larger than 1 MiB (`payload_too_large`)",
    422: "Does not match the schema (`validation_error`)",
    429: "Too many requests (`rate_limited`, with `Retry-After`)",
    500: "Unexpected error (`internal`)",
    503: "A dependency is down (`unavailable`, with `Retry-After`)",
}
RETRY_AFTER_STATUSES = {429, 503}
REQUEST_ID_HEADER = {
    "description": "The request's id (echoed when the client sent a safe one)",
    "required": True,
    "schema": {"type": "string"},
}
RETRY_AFTER_HEADER = {
    "description": "Seconds to wait before retrying",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
}

ALLOW_HEADER = {
    "description": "The methods this path accepts, e.g. `GET, HEAD, POST`",
    "required": True,
    "schema": {"type": "string"},
}


def _named(name: str, value: Any) -> dict[str, Any]:
    """One named example (`examples` on a media type: Swagger UI and schemathesis read it)."""
    return {name: {"value": value}}


def _document_operation(
    operation_id: str, summary: str, media_type: str, schema: dict[str, Any], example: Any
) -> dict[str, Any]:
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "tags": ["docs"],
            "responses": {
                "200": {
                    "description": "Success",
                    "headers": {"X-Request-ID": REQUEST_ID_HEADER},
                    "content": {
                        media_type: {"schema": schema, "examples": _named("success", example)}
                    },
                }
            },
        }
    }


SELF_DESCRIPTION_PATHS: dict[str, dict[str, Any]] = {
    "/openapi.json": _document_operation(
        "get_openapi",
        "This OpenAPI 3.1 document",
        "application/json",
        {"type": "object"},
        {
            "openapi": "3.1.0",
            "info": {"title": "awaterra API", "version": __version__},
            "paths": {},
        },
    ),
    "/docs": _document_operation(
        "get_docs",
        "Interactive API docs (Swagger UI 5, served by the service: no CDN)",
        "text/html",
        {"type": "string"},
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n  <title>awaterra API</title>...',
    ),
}


def _link_json_values(node: Any) -> Any:
    """Replace the models' JsonValue markers with references to the shared recursive schema."""
    if isinstance(node, dict):
        if node.get(JSON_VALUE_MARKER):
            return {"$ref": JSON_VALUE_REF}
        return {key: _link_json_values(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_link_json_values(item) for item in node]
    return node


def _body_schema(annotation: Any) -> dict[str, Any]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {"$ref": REF_TEMPLATE.format(model=annotation.__name__)}
    return TypeAdapter(annotation).json_schema(ref_template=REF_TEMPLATE)


def _parameters(
    model: type[BaseModel] | None, location: str, examples: Examples | None
) -> list[dict[str, Any]]:
    if model is None:
        return []
    schema = model.model_json_schema(by_alias=True, ref_template=REF_TEMPLATE)
    required = set(schema.get("required", ()))
    parameters = []
    for name, property_schema in schema["properties"].items():
        description = property_schema.pop("description", None)
        property_schema.pop("title", None)
        property_schema.pop("default", None)
        # An optional parameter is simply absent: document the type, not `null`.
        variants = property_schema.get("anyOf")
        if variants and {"type": "null"} in variants:
            (property_schema,) = [v for v in variants if v != {"type": "null"}]
        parameter: dict[str, Any] = {
            "name": name,
            "in": location,
            "required": location == "path" or name in required,
            "schema": property_schema,
        }
        if description:
            parameter["description"] = description
        if examples is not None and name in examples.parameters:
            parameter["example"] = examples.parameters[name]
        parameters.append(parameter)
    return parameters


def _response(
    description: str, model: type[BaseModel], status: int, example: Any = None, name: str = ""
) -> dict[str, Any]:
    headers: dict[str, Any] = {"X-Request-ID": REQUEST_ID_HEADER}
    if status in RETRY_AFTER_STATUSES:
        headers["Retry-After"] = RETRY_AFTER_HEADER
    if status == 405:
        headers["Allow"] = ALLOW_HEADER
    media: dict[str, Any] = {"schema": {"$ref": REF_TEMPLATE.format(model=model.__name__)}}
    if example is not None:
        media["examples"] = _named(name, example)
    return {"description": description, "headers": headers, "content": {"application/json": media}}


def _operation_id(endpoint: Endpoint) -> str:
    words = endpoint.path.strip("/").replace("{", "").replace("}", "").replace("/", "_")
    return f"{endpoint.method.lower()}_{words}"


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": _operation_id(endpoint),
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
    }
    if endpoint.description:
        operation["description"] = endpoint.description
    if endpoint.access is not Access.PUBLIC:
        operation["security"] = [{"bearer": []}]
    examples = endpoint.examples
    parameters = _parameters(endpoint.path_model, "path", examples) + _parameters(
        endpoint.query_model, "query", examples
    )
    if parameters:
        operation["parameters"] = parameters
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": not endpoint.body_optional,
            "content": {"application/json": {"schema": _body_schema(endpoint.body)}},
        }
        if examples is not None and examples.request is not None:
            operation["requestBody"]["content"]["application/json"]["examples"] = _named(
                "example", examples.request
            )
    successes = examples.responses if examples is not None else {}
    responses: dict[str, Any] = {}
    if endpoint.response is not None:
        responses[str(endpoint.status)] = _response(
            "Success", endpoint.response, endpoint.status, successes.get(endpoint.status), "success"
        )
    elif endpoint.status == 204:
        responses["204"] = {"description": "Done: no content", "headers": {
            "X-Request-ID": REQUEST_ID_HEADER}}
    for status, model in endpoint.extra_responses.items():
        description = (
            "Created" if status == 201 else "Dependency down" if status == 503 else "Success"
        )
        name = "created" if status == 201 else "failing" if status == 503 else "success"
        responses[str(status)] = _response(description, model, status, successes.get(status), name)
    # 405 belongs to the path, but OpenAPI has no path-level responses: every operation
    # carries it, so a client generator knows the shape of the answer to a wrong method.
    errors = set(endpoint.errors) | {405, 500}
    if endpoint.access is not Access.PUBLIC:
        errors.add(401)
    if endpoint.access is Access.ADMIN:
        errors.add(403)
    for status in sorted(errors):
        if str(status) not in responses:
            body = error_example(examples, status)
            responses[str(status)] = _response(
                ERROR_DESCRIPTIONS[status], ErrorResult, status, body, body["error"]["code"]
            )
    operation["responses"] = responses
    return operation


def build_openapi(endpoints: Sequence[Endpoint]) -> dict[str, Any]:
    models: dict[type[BaseModel], JsonSchemaMode] = {ErrorResult: "serialization"}
    for endpoint in endpoints:
        if isinstance(endpoint.body, type) and issubclass(endpoint.body, BaseModel):
            models[endpoint.body] = "validation"
        for model in (endpoint.response, *endpoint.extra_responses.values()):
            if model is not None:
                models[model] = "serialization"
    _, definitions = models_json_schema(
        [(model, mode) for model, mode in models.items()],
        ref_template=REF_TEMPLATE,
        by_alias=True,
    )
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))
    schemas["JsonValue"] = JSON_VALUE_SCHEMA

    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint)
    paths.update(SELF_DESCRIPTION_PATHS)
    document: dict[str, Any] = _link_json_values(
        {
            "openapi": "3.1.0",
            "info": {
                "title": "awaterra API",
                "version": __version__,
                "description": "The mobile app's backend: practice content, per-user progress map, "
                "analytics events and remote configuration. Errors are "
                '`{"success": false, "error": {"code", "message", "details"?}}`.',
            },
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
                },
            },
        }
    )
    return document


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m service.openapi [--markdown]`: the document as JSON, or docs/api.md."""
    import argparse
    import json

    from service.app import ENDPOINTS, openapi_document
    from service.openapi_markdown import render_markdown

    parser = argparse.ArgumentParser(prog="python -m service.openapi", description=main.__doc__)
    parser.add_argument("--markdown", action="store_true", help="render docs/api.md instead")
    args = parser.parse_args(argv)
    document = openapi_document()
    if args.markdown:
        print(render_markdown(document, ENDPOINTS), end="")
    else:
        print(json.dumps(document, indent=2))


if __name__ == "__main__":
    main()
