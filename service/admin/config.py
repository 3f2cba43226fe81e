"""The panel's own settings (ADMIN_*), read with the service's and checked against them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlsplit

MIN_SESSION_KEY_LENGTH = 32
DEFAULT_MAX_UPLOAD_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True)
class AdminSettings:
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = field(default=None, repr=False)
    base_url: str | None = None
    session_key: str | None = field(default=None, repr=False)
    links: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES


def _origin(raw: str) -> str | None:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    if parts.path.strip("/") or parts.query or parts.fragment:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def _links(raw: str, problems: list[str]) -> Mapping[str, str]:
    try:
        value = json.loads(raw)
    except ValueError:
        problems.append("ADMIN_LINKS must be a JSON object of label to URL")
        return MappingProxyType({})
    if not isinstance(value, dict) or not all(
        isinstance(label, str)
        and label
        and isinstance(url, str)
        and urlsplit(url).scheme in ("http", "https")
        for label, url in value.items()
    ):
        problems.append("ADMIN_LINKS must be a JSON object of label to http(s) URL")
        return MappingProxyType({})
    return MappingProxyType(dict(value))


def load_admin_settings(
    env: Mapping[str, str], environment: str, issuer: str | None, problems: list[str]
) -> AdminSettings:
    """The ADMIN_* variables; each problem found is appended to `problems`."""
    client_id = env.get("ADMIN_OIDC_CLIENT_ID") or None
    session_key = env.get("ADMIN_SESSION_KEY") or None
    base_url = None
    if env.get("ADMIN_BASE_URL"):
        base_url = _origin(env["ADMIN_BASE_URL"])
        if base_url is None:
            problems.append(
                "ADMIN_BASE_URL must be an origin such as https://api.example.com "
                f"(no path), got {env['ADMIN_BASE_URL']!r}"
            )
    if client_id and not issuer:
        problems.append("ADMIN_OIDC_CLIENT_ID signs in through AUTH_ISSUER: set AUTH_* too")
    # Only a configured panel needs a key: without a client dev and prod answer 503 anyway.
    if environment != "local" and client_id and not session_key:
        problems.append(f"ADMIN_SESSION_KEY must be set when ENVIRONMENT={environment}")
    if session_key is not None and len(session_key) < MIN_SESSION_KEY_LENGTH:
        problems.append(f"ADMIN_SESSION_KEY must be at least {MIN_SESSION_KEY_LENGTH} characters")
    return AdminSettings(
        oidc_client_id=client_id,
        oidc_client_secret=env.get("ADMIN_OIDC_CLIENT_SECRET") or None,
        base_url=base_url,
        session_key=session_key,
        links=_links(env.get("ADMIN_LINKS") or "{}", problems),
    )
