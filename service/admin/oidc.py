"""Sign-in through the issuer the API trusts: authorization code with PKCE (S256), state and
nonce, with authlib's OAuth 2 client; the ID token is verified by the service's own verifier.

The provider's endpoints come from `{AUTH_ISSUER}/.well-known/openid-configuration` (fetched
once, in a worker thread with a timeout; refetched after a failure). The ID token goes through
`JwksVerifier` with the same AUTH_JWKS_URL and AUTH_ISSUER as bearer tokens and the panel's
client id as audience, then its `nonce` must be the one this browser's sign-in sent.
"""

from __future__ import annotations

import hmac
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from requests import RequestException

from service.admin.errors import SignInFailed, Unavailable
from service.admin.session import PendingLogin
from service.auth import AuthError, JwksVerifier, Principal
from service.auth_jwks import validate_jwks_url

SCOPE = "openid email"
HTTP_TIMEOUT_SECONDS = 5.0
CONSUMED_STATES_KEPT = 10_000


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


class OidcClient:
    def __init__(
        self,
        *,
        issuer: str,
        jwks_url: str,
        client_id: str,
        client_secret: str | None,
    ) -> None:
        # https, or http to loopback only (the tests' provider): the same rule as the JWKS.
        self.discovery_url = validate_jwks_url(discovery_url(issuer))
        self.issuer = issuer
        self.client_id = client_id
        self._client_secret = client_secret
        self.verifier = JwksVerifier(jwks_url, issuer, client_id)
        self._metadata: ProviderMetadata | None = None
        self._lock = threading.Lock()
        # States already used: a replayed callback is refused here even before the issuer
        # refuses the replayed code.
        self._consumed: OrderedDict[str, None] = OrderedDict()

    def _session(self, redirect_uri: str) -> OAuth2Session:
        return OAuth2Session(
            self.client_id,
            self._client_secret,
            scope=SCOPE,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method=(
                "client_secret_basic" if self._client_secret else "none"
            ),
        )

    def _fetch_metadata(self) -> ProviderMetadata:
        with self._lock:
            if self._metadata is not None:
                return self._metadata
        response = requests.get(
            self.discovery_url,
            timeout=HTTP_TIMEOUT_SECONDS,
            headers={"Accept": "application/json"},
            allow_redirects=False,
        )
        response.raise_for_status()
        document = response.json()
        if not isinstance(document, dict):
            raise ValueError("discovery document is not an object")
        endpoints = {
            name: document.get(name) for name in ("authorization_endpoint", "token_endpoint")
        }
        for name, url in endpoints.items():
            if not isinstance(url, str) or urlsplit(url).scheme not in ("https", "http"):
                raise ValueError(f"discovery document lacks {name}")
            validate_jwks_url(url)
        # OpenID Connect Discovery: the document must name the issuer it was fetched for.
        if document.get("issuer") != self.issuer:
            raise ValueError("discovery document names another issuer")
        metadata = ProviderMetadata(self.issuer, **endpoints)  # type: ignore[arg-type]
        with self._lock:
            self._metadata = metadata
        return metadata

    async def metadata(self) -> ProviderMetadata:
        try:
            return await anyio.to_thread.run_sync(self._fetch_metadata)
        except (RequestException, ValueError):
            raise Unavailable(
                "The sign-in provider could not be reached (its discovery document at "
                f"{self.discovery_url} did not answer as expected). Try again shortly."
            ) from None

    async def start(
        self, redirect_uri: str, next_path: str, now: float
    ) -> tuple[str, PendingLogin]:
        """The authorization URL to send the browser to, and what the callback must match."""
        metadata = await self.metadata()
        pending = PendingLogin(
            state=generate_token(32),
            nonce=generate_token(32),
            verifier=generate_token(64),
            next=next_path,
            started_at=now,
        )
        with self._session(redirect_uri) as oauth:
            url, _ = oauth.create_authorization_url(
                metadata.authorization_endpoint,
                state=pending.state,
                code_verifier=pending.verifier,
                nonce=pending.nonce,
            )
        return str(url), pending

    def consume_state(self, pending: PendingLogin | None, state: str) -> PendingLogin:
        if pending is None or not state or not hmac.compare_digest(pending.state, state):
            raise SignInFailed(
                "The sign-in response does not belong to a sign-in started in this browser "
                "(wrong or expired state). Nobody was signed in; start again."
            )
        with self._lock:
            if state in self._consumed:
                raise SignInFailed("This sign-in response was already used. Start again.")
            self._consumed[state] = None
            while len(self._consumed) > CONSUMED_STATES_KEPT:
                self._consumed.popitem(last=False)
        return pending

    async def finish(self, pending: PendingLogin, code: str, redirect_uri: str) -> Principal:
        metadata = await self.metadata()

        def exchange() -> dict[str, Any]:
            with self._session(redirect_uri) as oauth:
                token: dict[str, Any] = oauth.fetch_token(
                    metadata.token_endpoint,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=pending.verifier,
                    timeout=HTTP_TIMEOUT_SECONDS,
                )
                return token

        try:
            token = await anyio.to_thread.run_sync(exchange)
        except (OAuthError, RequestException, ValueError):
            raise SignInFailed(
                "The sign-in provider refused the code (used before, expired, or sent "
                "without the right verifier). Nobody was signed in; start again."
            ) from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SignInFailed("The sign-in provider sent no ID token. Nobody was signed in.")
        try:
            principal = await self.verifier.verify(id_token)
        except AuthError as error:
            raise SignInFailed(
                f"The ID token was refused: {error}. Nobody was signed in."
            ) from None
        nonce = principal.claims.get("nonce")
        if not isinstance(nonce, str) or not hmac.compare_digest(nonce, pending.nonce):
            raise SignInFailed("The ID token's nonce does not match. Nobody was signed in.")
        return principal
