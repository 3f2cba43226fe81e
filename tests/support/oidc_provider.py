"""A small OpenID Connect provider on loopback, for the admin panel's code flow.

It serves discovery, the JWKS (the same signing keys as tests/support/jwks.py), an
authorization endpoint that signs in `next_user` at once (no page: the browser is redirected
straight back), and a token endpoint that checks what a real provider checks: the code is
known, unused and unexpired, the client and redirect URI are the ones the code was issued
to, and SHA-256 of the PKCE verifier is the challenge. Knobs let a test make it misbehave:
answer with another state, replay an old code, sign with an unknown key, send another nonce.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.support.jwks import SigningKey, claims, generate_rsa_key, mint
from tests.support.loopback_http import LoopbackHttpServer


@dataclass
class IssuedCode:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str
    subject: str
    admin: bool
    issued_at: float
    used: bool = False


@dataclass
class Misbehaviour:
    wrong_state: bool = False
    replay_code: str | None = None
    unknown_key: bool = False
    wrong_nonce: bool = False


@dataclass
class ProviderLog:
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    token_refusals: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class OidcProvider(LoopbackHttpServer):
    def __init__(self, client_id: str, key: SigningKey | None = None) -> None:
        super().__init__()
        self.client_id = client_id
        self.key = key or generate_rsa_key("oidc-1")
        self._stranger = generate_rsa_key("oidc-1")  # same kid, key not in the JWKS
        self.next_user: tuple[str, bool] = ("admin@example.test", True)
        self.misbehave = Misbehaviour()
        self.log = ProviderLog()
        self._codes: dict[str, IssuedCode] = {}
        self._lock = threading.Lock()

    @property
    def issuer(self) -> str:
        return f"http://{self.host_port}"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/.well-known/jwks.json"

    def reset(self) -> None:
        with self._lock:
            self.misbehave = Misbehaviour()
            self.next_user = ("admin@example.test", True)

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": self.jwks_url,
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email"],
        }

    def authorize(self, params: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.log.authorize_requests.append(params)
            misbehave = self.misbehave
            subject, admin = self.next_user
        problems = []
        if params.get("client_id") != self.client_id:
            problems.append("unknown client")
        if params.get("response_type") != "code":
            problems.append("response_type must be code")
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            problems.append("PKCE S256 required")
        if "openid" not in params.get("scope", "").split():
            problems.append("scope must include openid")
        if not params.get("state") or not params.get("nonce"):
            problems.append("state and nonce required")
        if problems:
            return 400, {"Content-Type": "text/plain"}, "; ".join(problems).encode()
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = IssuedCode(
                client_id=params["client_id"],
                redirect_uri=params["redirect_uri"],
                challenge=params["code_challenge"],
                nonce=params["nonce"],
                subject=subject,
                admin=admin,
                issued_at=time.time(),
            )
            self.log.codes.append(code)
        state = "forged-" + params["state"] if misbehave.wrong_state else params["state"]
        answer = {"code": misbehave.replay_code or code, "state": state}
        location = f"{params['redirect_uri']}?{urlencode(answer)}"
        return 302, {"Location": location}, b""

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.log.token_requests.append(form)
            issued = self._codes.get(form.get("code", ""))
            misbehave = self.misbehave
            refusal = self._refusal(form, issued)
            if refusal is not None:
                self.log.token_refusals.append(refusal)
                return 400, {"error": "invalid_grant", "error_description": refusal}
            assert issued is not None
            issued.used = True
        claim_set = claims(
            self.issuer,
            self.client_id,
            issued.subject,
            nonce="another-nonce" if misbehave.wrong_nonce else issued.nonce,
            email=issued.subject,
        )
        if issued.admin:
            claim_set["cognito:groups"] = ["admin"]
        id_token = mint(self._stranger if misbehave.unknown_key else self.key, claim_set)
        access_token = secrets.token_urlsafe(24)
        with self._lock:
            self.log.tokens += [id_token, access_token]
        return 200, {
            "access_token": access_token,
            "id_token": id_token,
            "token_type": "Bearer",
            "expires_in": 300,
        }

    def _refusal(self, form: dict[str, str], issued: IssuedCode | None) -> str | None:
        if form.get("grant_type") != "authorization_code":
            return "grant_type must be authorization_code"
        if issued is None:
            return "unknown code"
        if issued.used:
            return "code already used"
        if time.time() - issued.issued_at > 60:
            return "code expired"
        if form.get("client_id") != issued.client_id:
            return "code issued to another client"
        if form.get("redirect_uri") != issued.redirect_uri:
            return "redirect_uri differs from the authorization request"
        verifier = form.get("code_verifier", "")
        if not verifier or s256(verifier) != issued.challenge:
            return "PKCE verifier does not match the challenge"
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, value: Any) -> None:
                self._send(status, {"Content-Type": "application/json"}, json.dumps(value).encode())

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if parts.path == "/.well-known/openid-configuration":
                    self._json(200, provider.discovery())
                elif parts.path == "/.well-known/jwks.json":
                    self._json(200, {"keys": [provider.key.public_jwk()]})
                elif parts.path == "/authorize":
                    self._send(*provider.authorize(params))
                else:
                    self._send(404, {}, b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                form = {k: v[0] for k, v in parse_qs(body).items()}
                if urlsplit(self.path).path != "/token":
                    self._send(404, {}, b"")
                    return
                self._json(*provider.token(form))

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler
