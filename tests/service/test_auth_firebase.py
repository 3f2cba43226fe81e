"""Firebase Authentication ID tokens: RS256 from Google's securetoken keys (a JWKS served on
loopback here), issuer https://securetoken.google.com/<project>, audience <project>, admins by
the custom claim `admin: true`. The service's JwksVerifier takes them with no special case."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.auth import AuthError, JwksVerifier, Principal, build_verifier
from service.settings import load_settings
from tests.support.jwks import JwksServer, SigningKey, generate_rsa_key, mint

PROJECT = "awaterra-prod"
ISSUER = f"https://securetoken.google.com/{PROJECT}"
GOOGLE_JWKS = (
    "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com"
)


@pytest.fixture(scope="module")
def google_key() -> SigningKey:
    return generate_rsa_key("0f6a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2")  # Google's kids are hex


@pytest.fixture
def securetoken(google_key: SigningKey) -> Iterator[JwksServer]:
    with JwksServer([google_key]) as server:
        yield server


def firebase_claims(
    uid: str = "Xk9uA2bQ3cR4dS5eT6fU7gV8hW91", project: str = PROJECT, **extra: Any
) -> dict[str, Any]:
    """The claims Firebase Auth puts in an ID token (email sign-in)."""
    now = int(time.time())
    return {
        "iss": f"https://securetoken.google.com/{project}",
        "aud": project,
        "auth_time": now - 60,
        "user_id": uid,
        "sub": uid,
        "iat": now,
        "exp": now + 3600,
        "email": "someone@example.com",
        "email_verified": True,
        "firebase": {
            "identities": {"email": ["someone@example.com"]},
            "sign_in_provider": "password",
        },
        **extra,
    }


def verify(verifier: JwksVerifier, token: str) -> Principal:
    return asyncio.run(verifier.verify(token))


@pytest.fixture
def verifier(securetoken: JwksServer) -> JwksVerifier:
    settings = load_settings(
        {
            "ENVIRONMENT": "dev",
            "DATABASE_URL": "sqlite:////tmp/x.db",
            "AUTH_JWKS_URL": securetoken.url,
            "AUTH_ISSUER": ISSUER,
            "AUTH_AUDIENCE": PROJECT,
        },
        cwd=Path("/tmp"),
    )
    built = build_verifier(
        settings.environment,
        settings.auth_jwks_url,
        settings.auth_issuer,
        settings.auth_audience,
        settings.data_dir,
    )
    assert isinstance(built, JwksVerifier)
    return built


def test_a_firebase_user_is_the_token_subject(
    verifier: JwksVerifier, google_key: SigningKey
) -> None:
    principal = verify(verifier, mint(google_key, firebase_claims()))
    assert principal.subject == "Xk9uA2bQ3cR4dS5eT6fU7gV8hW91"
    assert principal.is_admin is False
    assert principal.claims["firebase"]["sign_in_provider"] == "password"


@pytest.mark.parametrize(("admin", "is_admin"), [(True, True), ("true", False), (1, False)])
def test_admins_carry_the_custom_claim_admin_true(
    verifier: JwksVerifier, google_key: SigningKey, admin: Any, is_admin: bool
) -> None:
    principal = verify(verifier, mint(google_key, firebase_claims(admin=admin)))
    assert principal.is_admin is is_admin


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"aud": "another-project"}, "audience not accepted"),
        ({"iss": "https://securetoken.google.com/another-project"}, "issuer not accepted"),
        # A token of another project altogether: both its issuer and audience are wrong.
        (firebase_claims(project="another-project"), "issuer not accepted"),
        # A Google-signed token of another kind (an OAuth ID token): not a Firebase one.
        ({"iss": "https://accounts.google.com"}, "issuer not accepted"),
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"sub": ""}, "subject"),
    ],
)
def test_tokens_for_someone_else_are_refused(
    verifier: JwksVerifier, google_key: SigningKey, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(AuthError, match=message):
        verify(verifier, mint(google_key, {**firebase_claims(), **changes}))


def test_a_key_google_did_not_publish_is_refused(verifier: JwksVerifier) -> None:
    stranger = generate_rsa_key("0f6a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2")  # same kid
    with pytest.raises(AuthError, match="signature invalid"):
        verify(verifier, mint(stranger, firebase_claims()))


def test_the_documented_jwks_url_is_accepted() -> None:
    verifier = JwksVerifier(GOOGLE_JWKS, ISSUER, PROJECT)
    assert verifier.keys.url == GOOGLE_JWKS
