"""docs/api.md: the OpenAPI document rendered as a reference a reader can take in at once.

`python -m service.openapi --markdown > docs/api.md` (`make api-docs`); a test fails when the
file drifts from what this renders, so the reference is as current as the document.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from service.endpoints import Access, Endpoint

WHO = {
    Access.PUBLIC: "anyone (no token)",
    Access.USER: "any signed-in user (`Authorization: Bearer <token>`); admins too",
    Access.ADMIN: "admins only (a token whose `cognito:groups` lists `admin` or whose `admin` "
    "claim is `true`)",
}
REF_PREFIX = "#/components/schemas/"
CONSTRAINTS = (
    ("minLength", "length ≥ {}"),
    ("maxLength", "length ≤ {}"),
    ("minimum", "≥ {}"),
    ("maximum", "≤ {}"),
    ("minItems", "≥ {} items"),
    ("maxItems", "≤ {} items"),
    ("format", "{}"),
)
NO_NUL = "^[^\\x00]*$"
ERROR_REF = REF_PREFIX + "ErrorResult"

HEADER = """# API reference

Generated from the service's OpenAPI {openapi} document (`GET /openapi.json`, the same
pydantic models that validate requests) by `make api-docs`; do not edit by hand. The
interactive version is `GET /docs`. The service's behaviour around it (configuration,
storage, errors in depth) is in [service.md](service.md) and [storage.md](storage.md).

{description}

Bodies are JSON with camelCase fields, strict (no coercion: `"0.5"` is not a number) and
closed (an unknown field is a `422`). No text anywhere may contain a NUL character. Every
answer carries `X-Request-ID`; `429` and `503` carry `Retry-After`; `405` carries `Allow`.
Request bodies are at most 1 MiB (`413` beyond).

## Operations

| method and path | who may call it | summary |
|---|---|---|
"""


def _anchor(method: str, path: str) -> str:
    text = f"{method} {path}".lower()
    return "".join(c for c in text.replace(" ", "-") if c.isalnum() or c in "-_")


def _code(value: object) -> str:
    return f"`{value}`"


def type_of(schema: Mapping[str, Any]) -> str:
    """A schema in a few words: `string (length ≤ 200)`, `array of [Event](#event)`."""
    if "$ref" in schema:
        name = str(schema["$ref"]).removeprefix(REF_PREFIX)
        return f"[{name}](#{name.lower()})"
    if "anyOf" in schema:
        return " or ".join(type_of(variant) for variant in schema["anyOf"])
    if "enum" in schema:
        return "one of " + ", ".join(_code(json.dumps(v)) for v in schema["enum"])
    if "const" in schema:
        return _code(json.dumps(schema["const"]))
    kind = str(schema.get("type", "any JSON"))
    if kind == "array" and "items" in schema:
        kind = f"array of {type_of(schema['items'])}"
    elif kind == "object" and isinstance(schema.get("additionalProperties"), Mapping):
        kind = f"object of {type_of(schema['additionalProperties'])}"
    notes = [template.format(schema[key]) for key, template in CONSTRAINTS if key in schema]
    pattern = schema.get("pattern")
    if pattern and pattern != NO_NUL and schema.get("format") != "date-time":
        notes.append(f"pattern `{pattern}`".replace("|", "\\|"))  # inside a table cell
    return f"{kind} ({', '.join(notes)})" if notes else kind


def _json_block(value: Any) -> list[str]:
    return ["```json", json.dumps(value, indent=2, ensure_ascii=False), "```"]


def _examples(media: Mapping[str, Any]) -> list[Any]:
    return [example["value"] for example in media.get("examples", {}).values()]


def _operation(method: str, path: str, operation: Mapping[str, Any], who: str) -> list[str]:
    lines = [f"### {method} {path}", "", operation["summary"] + ".", ""]
    lines += [f"**Who may call it:** {who}.", ""]
    if "description" in operation:
        lines += [operation["description"], ""]
    parameters = operation.get("parameters", ())
    if parameters:
        lines += ["| parameter | in | required | type | example |", "|---|---|---|---|---|"]
        for parameter in parameters:
            description = parameter.get("description")
            kind = type_of(parameter["schema"]) + (f". {description}" if description else "")
            lines.append(
                f"| `{parameter['name']}` | {parameter['in']} | "
                f"{'yes' if parameter['required'] else 'no'} | {kind} | "
                f"`{parameter.get('example', '')}` |"
            )
        lines.append("")
    body = operation.get("requestBody")
    if body is not None:
        media = body["content"]["application/json"]
        optional = "" if body["required"] else " (optional: an empty body means `{}`)"
        lines += [f"**Request body**{optional}: {type_of(media['schema'])}", ""]
        for example in _examples(media):
            lines += [*_json_block(example), ""]
    lines += ["| status | meaning | body | example message |", "|---|---|---|---|"]
    for status, response in operation["responses"].items():
        if "content" not in response:  # 204
            lines.append(f"| {status} | {response['description']} | none | |")
            continue
        (media_type, media), *_ = response["content"].items()
        shape = type_of(media["schema"]) if media_type == "application/json" else media_type
        message = ""
        if media["schema"].get("$ref") == ERROR_REF:
            (example,) = _examples(media)
            message = _code(example["error"]["message"])
            if example["error"].get("details"):
                message += ", details " + _code(json.dumps(example["error"]["details"]))
        lines.append(f"| {status} | {response['description']} | {shape} | {message} |")
    lines.append("")
    for status, response in operation["responses"].items():
        for media_type, media in response.get("content", {}).items():
            if media["schema"].get("$ref") == ERROR_REF:
                continue  # in the table above
            for example in _examples(media):
                lines += [f"Example `{status}`:", ""]
                if media_type == "application/json":
                    lines += _json_block(example)
                else:
                    lines += [f"```{media_type.split('/')[-1]}", str(example), "```"]
                lines.append("")
    return lines


def _schema(name: str, schema: Mapping[str, Any]) -> list[str]:
    lines = [f"### {name}", ""]
    if "description" in schema:
        lines += [schema["description"], ""]
    properties: Mapping[str, Any] = schema.get("properties", {})
    if not properties:
        return [*lines, f"{type_of({k: v for k, v in schema.items() if k != 'description'})}", ""]
    required = set(schema.get("required", ()))
    lines += ["| field | type | required | description |", "|---|---|---|---|"]
    for field, property_schema in properties.items():
        lines.append(
            f"| `{field}` | {type_of(property_schema)} | "
            f"{'yes' if field in required else 'no'} | "
            f"{property_schema.get('description', '')} |"
        )
    return [*lines, ""]


def render_markdown(document: Mapping[str, Any], endpoints: Sequence[Endpoint]) -> str:
    access = {(e.method, e.path): e.access for e in endpoints}
    operations = [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]
    lines = [
        HEADER.format(
            openapi=document["openapi"], description=document["info"]["description"]
        ).rstrip("\n")
    ]
    for method, path, operation in operations:
        who = WHO[access.get((method, path), Access.PUBLIC)]
        link = f"[`{method} {path}`](#{_anchor(method, path)})"
        lines.append(f"| {link} | {who.split(' (')[0]} | {operation['summary']} |")
    lines += ["", "## Errors", ""]
    lines += [
        'Every error is `{"success": false, "error": {"code", "message", "details"?}}` '
        "([ErrorResult](#errorresult)); `details` lists `{field, message}` for a `422`.",
        "",
    ]
    codes = document["components"]["schemas"]["ErrorInfo"]["properties"]["code"]["enum"]
    lines += ["Codes: " + ", ".join(_code(code) for code in codes) + ".", ""]
    for method, path, operation in operations:
        lines += _operation(method, path, operation, WHO[access.get((method, path), Access.PUBLIC)])
    lines += ["## Schemas", ""]
    for name, schema in document["components"]["schemas"].items():
        lines += _schema(name, schema)
    return "\n".join(lines).rstrip("\n") + "\n"
