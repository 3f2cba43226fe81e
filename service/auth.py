"""Bearer-token verification: who is calling, and are they an admin.

`build_verifier` picks the verifier from configuration: a JWKS issuer (Cognito, Firebase
Auth, any OIDC provider) whenever one is configured, and the local development key only
for `ENVIRONMENT=local` with nothing configured. Both accept RS256/ES256 only, always check
signature, `exp`, `iss` and `aud` (or Cognito's `client_id`), and remember verified tokens
until they expire, because verification sits on every authenticated request.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

import jwt

from service.auth_cache import ExpiringLruCache
from service.auth_jwks import SUPPORTED_ALGORITHMS, JwksKeySet
from service.auth_local_key import (
    LOCAL_ALGORITHM,
    LOCAL_AUDIENCE,
    LOCAL_ISSUER,
    load_or_create_signing_key,
)

__all__ = [
    "LOCAL_AUDIENCE",
    "LOCAL_ISSUER",
    "AuthError",
    "JwksVerifier",
    "LocalKeyVerifier",
    "Principal",
    "TokenVerifier",
    "build_verifier",
    "mint_local_token",
]

ENVIRONMENTS = ("local", "dev", "prod")
MAX_TOKEN_LENGTH = 8192
MAX_SUBJECT_LENGTH = 255
MAX_LOCAL_TOKEN_TTL_SECONDS = 30 * 24 * 3600
ADMIN_GROUP = "admin"


class AuthError(Exception):
    """The request's token is missing, malformed, forged, expired or meant for someone else.

    The message is safe to show the caller: it never contains the token or key material.
    """


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified caller: `subject` is the token's `sub`, the user id everywhere else."""

    subject: str
    is_admin: bool
    claims: Mapping[str, Any]


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> Principal:
        """The token's principal; raises AuthError for any token that must not be trusted."""
        ...


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    subject = claims.get("sub")
    if (
        not isinstance(subject, str)
        or not subject
        or len(subject) > MAX_SUBJECT_LENGTH
        or "\x00" in subject
    ):
        raise AuthError("token subject is missing or invalid")
    groups = claims.get("cognito:groups")
    in_admin_group = isinstance(groups, list) and ADMIN_GROUP in groups
    return Principal(
        subject=subject,
        is_admin=in_admin_group or claims.get("admin") is True,
        claims=MappingProxyType(dict(claims)),
    )


class _VerifierBase:
    """Signature and claim checks shared by both verifiers; subclasses supply the key."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        leeway_seconds: float,
        cache_size: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not issuer:
            raise ValueError("AUTH_ISSUER must not be empty")
        if not audience:
            raise ValueError("AUTH_AUDIENCE must not be empty")
        self.issuer = issuer
        self.audience = audience
        self._leeway = leeway_seconds
        self._cache: ExpiringLruCache[Principal] = ExpiringLruCache(cache_size, clock=clock)

    async def verify(self, token: str) -> Principal:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise AuthError("malformed token")
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("malformed token") from None
        algorithm = header.get("alg")
        if algorithm not in SUPPORTED_ALGORITHMS:
            raise AuthError("token algorithm not accepted")
        key = await self._verification_key(header)
        claims = self._decode(token, key, algorithm)
        principal = principal_from_claims(claims)
        self._cache.put(token, principal, float(claims["exp"]))
        return principal

    async def _verification_key(self, header: Mapping[str, Any]) -> Any:
        raise NotImplementedError

    def _decode(self, token: str, key: Any, algorithm: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=self.issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "sub"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("token not yet valid") from None
        except jwt.InvalidIssuerError:
            raise AuthError("token issuer not accepted") from None
        except jwt.InvalidSignatureError:
            raise AuthError("token signature invalid") from None
        except jwt.MissingRequiredClaimError as error:
            raise AuthError(f"token lacks the {error.claim} claim") from None
        except jwt.PyJWTError:
            raise AuthError("malformed token") from None
        if not isinstance(claims.get("exp"), int | float):
            raise AuthError("malformed token")
        if not self._audience_matches(claims):
            raise AuthError("token audience not accepted")
        return claims

    def _audience_matches(self, claims: Mapping[str, Any]) -> bool:
        audience = claims.get("aud")
        if audience is None:
            # Cognito access tokens carry the app client in `client_id` instead of `aud`.
            return claims.get("client_id") == self.audience
        if isinstance(audience, str):
            return audience == self.audience
        return isinstance(audience, list) and self.audience in audience


class JwksVerifier(_VerifierBase):
    """Tokens signed by an external issuer whose public keys are published as a JWKS."""

    def __init__(
        self,
        jwks_url: str,
        issuer: str,
        audience: str,
        *,
        http_timeout: float = 3.0,
        min_refresh_interval: float = 30.0,
        cache_size: int = 10_000,
        leeway_seconds: float = 10.0,
    ) -> None:
        super().__init__(issuer, audience, leeway_seconds=leeway_seconds, cache_size=cache_size)
        self.keys = JwksKeySet(
            jwks_url, http_timeout=http_timeout, min_refresh_interval=min_refresh_interval
        )

    async def _verification_key(self, header: Mapping[str, Any]) -> Any:
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("token has no key id")
        jwk = await self.keys.get(kid)
        if jwk is None:
            raise AuthError("token signing key unknown")
        if jwk.algorithm_name != header.get("alg"):
            # An RSA key must never verify an ES256 claim and vice versa.
            raise AuthError("token algorithm does not match its key")
        return jwk.key


class LocalKeyVerifier(_VerifierBase):
    """Tokens minted by `python -m service token` with the local development key."""

    def __init__(self, data_dir: Path, *, cache_size: int = 10_000) -> None:
        super().__init__(LOCAL_ISSUER, LOCAL_AUDIENCE, leeway_seconds=0.0, cache_size=cache_size)
        self._signing_key = load_or_create_signing_key(data_dir)

    async def _verification_key(self, header: Mapping[str, Any]) -> Any:
        if header.get("alg") != LOCAL_ALGORITHM or header.get("kid") != self._signing_key.kid:
            raise AuthError("token signing key unknown")
        return self._signing_key.public_key


def build_verifier(
    environment: str,
    jwks_url: str | None,
    issuer: str | None,
    audience: str | None,
    data_dir: Path,
) -> TokenVerifier:
    """The verifier this configuration asks for; ValueError names what is missing or wrong."""
    if environment not in ENVIRONMENTS:
        choices = ", ".join(ENVIRONMENTS)
        raise ValueError(f"ENVIRONMENT must be one of {choices}, got {environment!r}")
    settings = {"AUTH_JWKS_URL": jwks_url, "AUTH_ISSUER": issuer, "AUTH_AUDIENCE": audience}
    missing = [name for name, value in settings.items() if not value]
    if len(missing) == len(settings) and environment == "local":
        return LocalKeyVerifier(data_dir)
    if missing:
        raise ValueError(
            f"ENVIRONMENT={environment} verifies tokens against a JWKS issuer and needs "
            f"AUTH_JWKS_URL, AUTH_ISSUER and AUTH_AUDIENCE; missing: {', '.join(missing)}"
        )
    assert jwks_url and issuer and audience
    return JwksVerifier(jwks_url, issuer, audience)


def mint_local_token(
    subject: str,
    admin: bool,
    ttl_seconds: int,
    data_dir: Path,
    *,
    environment: str = "local",
) -> str:
    """A token signed with the local development key (for `python -m service token`)."""
    if environment == "prod":
        raise ValueError("refusing to mint a development token with ENVIRONMENT=prod")
    if not subject or len(subject) > MAX_SUBJECT_LENGTH or "\x00" in subject:
        raise ValueError(f"subject must be 1..{MAX_SUBJECT_LENGTH} characters without NUL")
    if not 0 < ttl_seconds <= MAX_LOCAL_TOKEN_TTL_SECONDS:
        raise ValueError(
            f"ttl must be between 1 and {MAX_LOCAL_TOKEN_TTL_SECONDS} seconds, got {ttl_seconds}"
        )
    signing_key = load_or_create_signing_key(data_dir)
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": LOCAL_ISSUER,
        "aud": LOCAL_AUDIENCE,
        "sub": subject,
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
        "admin": admin,
    }
    return jwt.encode(
        claims,
        signing_key.private_key,
        algorithm=LOCAL_ALGORITHM,
        headers={"kid": signing_key.kid},
    )
