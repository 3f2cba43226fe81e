"""docs/api.md is the generated reference: it fails here as soon as it drifts from the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from service.app import ENDPOINTS, openapi_document
from service.openapi_markdown import render_markdown, type_of

REPO = Path(__file__).resolve().parents[2]
API_MD = REPO / "docs" / "api.md"


def test_api_md_is_the_generated_text() -> None:
    rendered = render_markdown(openapi_document(), ENDPOINTS)
    assert API_MD.read_text() == rendered, "docs/api.md is stale: run `make api-docs`"


def test_the_generator_command_prints_it() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "service.openapi", "--markdown"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout == API_MD.read_text()


def test_every_operation_is_in_the_reference_with_who_may_call_it() -> None:
    text = API_MD.read_text()
    for path, item in openapi_document()["paths"].items():
        for method in item:
            section = text.split(f"\n### {method.upper()} {path}\n", 1)[1].split("\n### ", 1)[0]
            assert "**Who may call it:**" in section
            assert any(f"| {status} |" in section for status in (200, 202, 204))
    assert "admins only" in text.split("\n### PUT /config/{key}\n", 1)[1].split("\n### ")[0]
    assert "request body is larger than 1 MiB" in text


def test_types_read_in_words() -> None:
    assert type_of({"$ref": "#/components/schemas/Event"}) == "[Event](#event)"
    assert type_of({"type": "array", "items": {"type": "integer", "minimum": 0}}) == (
        "array of integer (≥ 0)"
    )
    assert type_of({"anyOf": [{"type": "string"}, {"type": "null"}]}) == "string or null"
    assert type_of({"type": "string", "pattern": "a|b"}) == "string (pattern `a\\|b`)"
