"""A stand-in OIDC issuer: signing keys, a JWKS served on loopback, honest and forged tokens.

    with JwksServer([rsa_key]) as issuer:
        verifier = JwksVerifier(issuer.url, ISSUER, AUDIENCE)
        token = mint(rsa_key, claims(ISSUER, AUDIENCE, "user-1"))

The server runs in a thread (`http.server`), counts its requests, can be slowed down or made
to fail, and its key set can be swapped to simulate rotation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.support.loopback_http import LoopbackHttpServer


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

    def public_jwk(self) -> dict[str, Any]:
        public = self.private_key.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
        else:
            jwk = ECAlgorithm.to_jwk(public, as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.algorithm, "use": "sig"}

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def generate_rsa_key(kid: str = "rsa-key-1") -> SigningKey:
    return SigningKey(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def generate_ec_key(kid: str = "ec-key-1") -> SigningKey:
    return SigningKey(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


def claims(
    issuer: str, audience: str | None, subject: str = "user-1", ttl: int = 300, **extra: Any
) -> dict[str, Any]:
    """A claim set an honest issuer would sign; `extra` adds or overrides claims."""
    now = int(time.time())
    body: dict[str, Any] = {"iss": issuer, "sub": subject, "iat": now, "exp": now + ttl}
    if audience is not None:
        body["aud"] = audience
    body.update(extra)
    return body


def mint(
    key: SigningKey,
    claim_set: Mapping[str, Any],
    *,
    kid: str | None = None,
    headers: Mapping[str, Any] | None = None,
) -> str:
    """Sign with `key`; `kid` lies about which key signed, `headers` adds header fields."""
    header = {"kid": key.kid if kid is None else kid, **(headers or {})}
    return jwt.encode(dict(claim_set), key.private_key, algorithm=key.algorithm, headers=header)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64_json(value: Mapping[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def forge_alg_none(claim_set: Mapping[str, Any], kid: str) -> str:
    """An unsigned token (`alg: none`) naming a real key id."""
    return f"{_b64_json({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{_b64_json(claim_set)}."


def forge_hmac_with_public_key(key: SigningKey, claim_set: Mapping[str, Any]) -> str:
    """The classic key-confusion attack: HS256 with the issuer's public PEM as the secret."""
    signing_input = (
        f"{_b64_json({'alg': 'HS256', 'typ': 'JWT', 'kid': key.kid})}.{_b64_json(claim_set)}"
    )
    signature = hmac.new(key.public_pem(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def tamper_payload(token: str, **changes: Any) -> str:
    """The same header and signature over a payload with `changes` applied."""
    header, payload, signature = token.split(".")
    padded = payload + "=" * (-len(payload) % 4)
    body = json.loads(base64.urlsafe_b64decode(padded))
    body.update(changes)
    return f"{header}.{_b64_json(body)}.{signature}"


class JwksServer(LoopbackHttpServer):
    """Serves `{"keys": [...]}` at `url` on 127.0.0.1 from a background thread."""

    def __init__(self, keys: Iterable[SigningKey] = (), *, delay_seconds: float = 0.0) -> None:
        self.delay_seconds = delay_seconds
        self.status = 200
        self._keys = list(keys)
        self._lock = threading.Lock()
        self._request_count = 0
        super().__init__()

    @property
    def request_count(self) -> int:
        with self._lock:
            return self._request_count

    @property
    def url(self) -> str:
        return f"http://{self.host_port}/.well-known/jwks.json"

    def set_keys(self, keys: Iterable[SigningKey]) -> None:
        with self._lock:
            self._keys = list(keys)

    def document(self) -> dict[str, Any]:
        with self._lock:
            return {"keys": [key.public_jwk() for key in self._keys]}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with issuer._lock:
                    issuer._request_count += 1
                if issuer.delay_seconds:
                    time.sleep(issuer.delay_seconds)
                if self.path != "/.well-known/jwks.json":
                    self.send_error(404)
                    return
                body = json.dumps(issuer.document()).encode()
                self.send_response(issuer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None  # keep test output clean

        return Handler

