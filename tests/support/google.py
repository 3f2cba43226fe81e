"""Stand-ins for Google's credential endpoints, on loopback, and an independent V4 verifier.

    with MetadataServer(key, email) as google:
        # GCE_METADATA_HOST / GCE_METADATA_IP = google.host: google-auth's metadata-server
        # credentials fetch tokens here; google.iam_url answers IAM `signBlob` with `key`.

`verify_v4_signed_url` rebuilds the canonical request and string to sign from Google's V4
signing specification (not from google-cloud-storage) and checks the RSA-SHA256 signature.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.support.loopback_http import LoopbackHttpServer


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def write_service_account_key(
    path: Path, key: rsa.RSAPrivateKey, email: str, project: str = "awaterra-test"
) -> Path:
    """A service-account key file as the console hands out (the throwaway key inside)."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    document = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": "throwaway-key-1",
        "private_key": pem,
        "client_email": email,
        "client_id": "1234567890",
        "token_uri": "http://127.0.0.1:9/token",  # never used: signing needs no token
    }
    path.write_text(json.dumps(document))
    path.chmod(0o600)
    return path


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


@dataclass(frozen=True)
class SignedUrl:
    method: str
    email: str
    expires: int
    signed_headers: list[str]


def verify_v4_signed_url(
    url: str,
    method: str,
    public_key: rsa.RSAPublicKey,
    headers: Mapping[str, str] | None = None,
) -> SignedUrl:
    """Check `url` the way Cloud Storage would for a `method` request with `headers`.

    Raises AssertionError (or cryptography's InvalidSignature) when it does not verify.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    params = dict(query)
    assert len(params) == len(query), "repeated query parameters"
    assert params["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256"
    signature = bytes.fromhex(params["X-Goog-Signature"])
    email, date, location, service, request_type = params["X-Goog-Credential"].split("/")
    assert (location, service, request_type) == ("auto", "storage", "goog4_request")
    timestamp = params["X-Goog-Date"]
    assert timestamp[:8] == date
    signed_names = params["X-Goog-SignedHeaders"].split(";")

    sent = {"host": parts.netloc, **{k.lower(): v for k, v in (headers or {}).items()}}
    assert "host" in signed_names
    canonical_headers = "".join(f"{name}:{sent[name].strip()}\n" for name in signed_names)
    canonical_query = "&".join(
        f"{_encode(name)}={_encode(value)}"
        for name, value in sorted(query)
        if name != "X-Goog-Signature"
    )
    canonical_request = "\n".join(
        [
            method,
            parts.path,
            canonical_query,
            canonical_headers,
            params["X-Goog-SignedHeaders"],
            "UNSIGNED-PAYLOAD",
        ]
    )
    string_to_sign = "\n".join(
        [
            "GOOG4-RSA-SHA256",
            timestamp,
            f"{date}/auto/storage/goog4_request",
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    public_key.verify(signature, string_to_sign.encode(), padding.PKCS1v15(), hashes.SHA256())
    return SignedUrl(method, email, int(params["X-Goog-Expires"]), signed_names)


@dataclass
class Calls:
    """What the fake endpoints were asked, in order."""

    tokens: int = 0
    sign_blob: list[tuple[str, str]] = field(default_factory=list)  # (email, Authorization)


class MetadataServer(LoopbackHttpServer):
    """The GCE/Cloud Run metadata server's token endpoints and IAM `signBlob`, on loopback.

    Tokens are `token-<n>`, valid for `token_ttl` seconds; `signBlob` signs with `key` for
    `email` only and wants a current token.
    """

    def __init__(self, key: rsa.RSAPrivateKey, email: str, *, token_ttl: int = 3600) -> None:
        self.key = key
        self.email = email
        self.token_ttl = token_ttl
        self.sign_status = 200  # anything else: signBlob answers that (IAM refused)
        self.calls = Calls()
        self._lock = threading.Lock()
        super().__init__()

    @property
    def host(self) -> str:
        return self.host_port

    @property
    def iam_url(self) -> str:
        return f"http://{self.host}"

    def current_token(self) -> str:
        with self._lock:
            return f"token-{self.calls.tokens}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(
                self, status: int, body: Any, content_type: str = "application/json"
            ) -> None:
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Metadata-Flavor", "Google")
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                if path.startswith("/computeMetadata/") and (
                    self.headers.get("Metadata-Flavor") != "Google"
                ):
                    self._answer(403, {"error": "Metadata-Flavor header missing"})
                    return
                # The account is "default" or, once known, its email (as on the real server).
                base = "/computeMetadata/v1/instance/service-accounts/"
                for alias in ("default", fake.email):
                    if path.startswith(base + alias + "/"):
                        path = path.replace(base + alias, base + "default", 1)
                base += "default"
                if path in ("", "/"):
                    self._answer(200, "ok", "text/plain")
                elif path == f"{base}/":
                    self._answer(
                        200,
                        {"aliases": ["default"], "email": fake.email, "scopes": ["cloud-platform"]},
                    )
                elif path == f"{base}/email":
                    self._answer(200, fake.email, "text/plain")
                elif path == f"{base}/token":
                    with fake._lock:
                        fake.calls.tokens += 1
                        token = f"token-{fake.calls.tokens}"
                    self._answer(
                        200,
                        {
                            "access_token": token,
                            "expires_in": fake.token_ttl,
                            "token_type": "Bearer",
                        },
                    )
                elif path == "/computeMetadata/v1/universe/universe-domain":
                    self._answer(200, "googleapis.com", "text/plain")
                elif path == "/computeMetadata/v1/project/project-id":
                    self._answer(200, "awaterra-test", "text/plain")
                else:
                    self._answer(404, {"error": "not found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                path = urlsplit(self.path).path
                prefix, suffix = "/v1/projects/-/serviceAccounts/", ":signBlob"
                if not (path.startswith(prefix) and path.endswith(suffix)):
                    self._answer(404, {"error": "not found"})
                    return
                email = path.removeprefix(prefix).removesuffix(suffix)
                authorization = self.headers.get("Authorization", "")
                with fake._lock:
                    fake.calls.sign_blob.append((email, authorization))
                    current = f"Bearer token-{fake.calls.tokens}"
                if email != fake.email or authorization != current or fake.sign_status != 200:
                    status = fake.sign_status if fake.sign_status != 200 else 403
                    self._answer(status, {"error": {"code": status, "status": "PERMISSION_DENIED"}})
                    return
                signature = fake.key.sign(
                    base64.b64decode(body["payload"]), padding.PKCS1v15(), hashes.SHA256()
                )
                self._answer(
                    200,
                    {"keyId": "iam-key", "signedBlob": base64.b64encode(signature).decode()},
                )

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler



def use_metadata_host(monkeypatch: Any, host: str) -> None:
    """Point google-auth at `host` for the metadata server (it reads GCE_METADATA_HOST once,
    at import, so the module's copy is patched too)."""
    from google.auth.compute_engine import _metadata

    monkeypatch.setenv("GCE_METADATA_HOST", host)
    monkeypatch.setenv("GCE_METADATA_IP", host)
    monkeypatch.setattr(_metadata, "_GCE_METADATA_HOST", host)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class StorageEmulator:
    """gcp-storage-emulator (in memory) on loopback, with `bucket` created."""

    def __init__(self, bucket: str) -> None:
        from gcp_storage_emulator.server import create_server

        self.port = free_port()
        self.server = create_server("127.0.0.1", self.port, in_memory=True, default_bucket=bucket)
        self.bucket = bucket
        self.url = f"http://127.0.0.1:{self.port}"

    def content_type(self, name: str) -> str | None:
        response = httpx.get(f"{self.url}/storage/v1/b/{self.bucket}/o/{name.replace('/', '%2F')}")
        if response.status_code == 404:
            return None
        value: str = response.json()["contentType"]
        return value
