"""Token verification units: a real JWKS served on loopback, and the local development key."""

from __future__ import annotations

import asyncio
import os
import stat
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jwt
import pytest

from service.auth import (
    LOCAL_AUDIENCE,
    LOCAL_ISSUER,
    AuthError,
    JwksVerifier,
    LocalKeyVerifier,
    Principal,
    build_verifier,
    mint_local_token,
)
from service.auth_cache import ExpiringLruCache
from service.auth_jwks import JwksKeySet, parse_jwks
from service.auth_local_key import load_or_create_signing_key
from tests.support.jwks import (
    JwksServer,
    SigningKey,
    claims,
    forge_alg_none,
    forge_hmac_with_public_key,
    generate_ec_key,
    generate_rsa_key,
    mint,
    tamper_payload,
)

ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example"
AUDIENCE = "app-client-id"


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    return generate_rsa_key("rsa-1")


@pytest.fixture(scope="module")
def ec_key() -> SigningKey:
    return generate_ec_key("ec-1")


@pytest.fixture
def issuer(rsa_key: SigningKey, ec_key: SigningKey) -> Iterator[JwksServer]:
    with JwksServer([rsa_key, ec_key]) as server:
        yield server


@pytest.fixture
def verifier(issuer: JwksServer) -> JwksVerifier:
    return JwksVerifier(issuer.url, ISSUER, AUDIENCE)


def verify(verifier: Any, token: str) -> Principal:
    result: Principal = asyncio.run(verifier.verify(token))
    return result


def refused(verifier: Any, token: str) -> str:
    with pytest.raises(AuthError) as caught:
        verify(verifier, token)
    return str(caught.value)


# --- tokens that must be accepted -------------------------------------------------------------


@pytest.mark.parametrize("key_name", ["rsa_key", "ec_key"])
def test_accepts_rs256_and_es256_tokens(
    verifier: JwksVerifier, key_name: str, request: pytest.FixtureRequest
) -> None:
    key: SigningKey = request.getfixturevalue(key_name)
    principal = verify(verifier, mint(key, claims(ISSUER, AUDIENCE, "user-42")))
    assert principal.subject == "user-42"
    assert principal.is_admin is False
    assert principal.claims["iss"] == ISSUER


def test_accepts_cognito_access_token_with_client_id_instead_of_aud(
    verifier: JwksVerifier, rsa_key: SigningKey
) -> None:
    token = mint(rsa_key, claims(ISSUER, None, client_id=AUDIENCE, token_use="access"))
    assert verify(verifier, token).subject == "user-1"


def test_accepts_audience_list_containing_ours(verifier: JwksVerifier, rsa_key: SigningKey) -> None:
    token = mint(rsa_key, claims(ISSUER, None, aud=["other-app", AUDIENCE]))
    assert verify(verifier, token).subject == "user-1"


def test_admin_via_cognito_group(verifier: JwksVerifier, rsa_key: SigningKey) -> None:
    token = mint(rsa_key, {**claims(ISSUER, AUDIENCE), "cognito:groups": ["staff", "admin"]})
    assert verify(verifier, token).is_admin is True


def test_admin_via_admin_claim(verifier: JwksVerifier, ec_key: SigningKey) -> None:
    assert verify(verifier, mint(ec_key, claims(ISSUER, AUDIENCE, admin=True))).is_admin is True


@pytest.mark.parametrize(
    "extra",
    [
        {"admin": "true"},
        {"admin": 1},
        {"cognito:groups": ["administrators"]},
        {"cognito:groups": "admin"},
        {"admin": False},
    ],
)
def test_look_alike_admin_claims_do_not_make_an_admin(
    verifier: JwksVerifier, rsa_key: SigningKey, extra: dict[str, Any]
) -> None:
    assert verify(verifier, mint(rsa_key, claims(ISSUER, AUDIENCE, **extra))).is_admin is False


def test_principal_is_immutable(verifier: JwksVerifier, rsa_key: SigningKey) -> None:
    principal = verify(verifier, mint(rsa_key, claims(ISSUER, AUDIENCE)))
    with pytest.raises(AttributeError):
        principal.is_admin = True  # type: ignore[misc]
    with pytest.raises(TypeError):
        principal.claims["admin"] = True  # type: ignore[index]


# --- tokens that must be refused --------------------------------------------------------------


def test_refuses_expired_token(verifier: JwksVerifier, rsa_key: SigningKey) -> None:
    token = mint(rsa_key, claims(ISSUER, AUDIENCE, ttl=-3600))
    assert refused(verifier, token) == "token expired"


def test_refuses_token_not_yet_valid(verifier: JwksVerifier, rsa_key: SigningKey) -> None:
    token = mint(rsa_key, claims(ISSUER, AUDIENCE, nbf=int(time.time()) + 3600))
    assert refused(verifier, token) == "token not yet valid"


def test_refuses_wrong_issuer(verifier: JwksVerifier, rsa_key: SigningKey) -> None:
    token = mint(rsa_key, claims("https://evil.example.com", AUDIENCE))
    assert refused(verifier, token) == "token issuer not accepted"


@pytest.mark.parametrize(
    "audience_claims",
    [
        {"aud": "another-app"},
        {"aud": ["another-app"]},
        {"client_id": "another-app"},
        {},
        # An `aud` that is present decides; a matching client_id does not rescue it.
        {"aud": "another-app", "client_id": AUDIENCE},
    ],
)
def test_refuses_wrong_or_missing_audience(
    verifier: JwksVerifier, rsa_key: SigningKey, audience_claims: dict[str, Any]
) -> None:
    token = mint(rsa_key, claims(ISSUER, None, **audience_claims))
    assert refused(verifier, token) == "token audience not accepted"


@pytest.mark.parametrize("missing", ["exp", "iss", "sub"])
def test_refuses_token_missing_a_required_claim(
    verifier: JwksVerifier, rsa_key: SigningKey, missing: str
) -> None:
    claim_set = claims(ISSUER, AUDIENCE)
    del claim_set[missing]
    assert missing in refused(verifier, mint(rsa_key, claim_set))


@pytest.mark.parametrize("subject", ["", "x" * 256, "user\x00one", 42])
def test_refuses_unusable_subject(
    verifier: JwksVerifier, rsa_key: SigningKey, subject: object
) -> None:
    refused(verifier, mint(rsa_key, claims(ISSUER, AUDIENCE, sub=subject)))


def test_refuses_tampered_payload(verifier: JwksVerifier, rsa_key: SigningKey) -> None:
    token = mint(rsa_key, claims(ISSUER, AUDIENCE, "user-1"))
    assert verify(verifier, token).subject == "user-1"
    forged = tamper_payload(token, sub="user-2", admin=True)
    assert refused(verifier, forged) == "token signature invalid"


def test_refuses_tampered_es256_payload(verifier: JwksVerifier, ec_key: SigningKey) -> None:
    forged = tamper_payload(mint(ec_key, claims(ISSUER, AUDIENCE)), exp=int(time.time()) + 10**6)
    assert refused(verifier, forged) == "token signature invalid"


def test_refuses_alg_none(verifier: JwksVerifier, rsa_key: SigningKey) -> None:
    forged = forge_alg_none(claims(ISSUER, AUDIENCE, admin=True), kid=rsa_key.kid)
    assert refused(verifier, forged) == "token algorithm not accepted"


@pytest.mark.parametrize("key_name", ["rsa_key", "ec_key"])
def test_refuses_hmac_signed_with_the_public_key(
    verifier: JwksVerifier, key_name: str, request: pytest.FixtureRequest
) -> None:
    key: SigningKey = request.getfixturevalue(key_name)
    forged = forge_hmac_with_public_key(key, claims(ISSUER, AUDIENCE, admin=True))
    assert refused(verifier, forged) == "token algorithm not accepted"


def test_refuses_token_whose_algorithm_does_not_match_the_named_key(
    verifier: JwksVerifier, rsa_key: SigningKey, ec_key: SigningKey
) -> None:
    # Signed by the RSA key but naming the EC key: must not be checked with the wrong family.
    token = mint(rsa_key, claims(ISSUER, AUDIENCE), kid=ec_key.kid)
    assert refused(verifier, token) == "token algorithm does not match its key"


def test_refuses_token_signed_by_a_stranger_with_a_known_kid(
    verifier: JwksVerifier, rsa_key: SigningKey
) -> None:
    stranger = generate_rsa_key(rsa_key.kid)
    assert refused(verifier, mint(stranger, claims(ISSUER, AUDIENCE))) == "token signature invalid"


def test_refuses_token_without_kid(verifier: JwksVerifier, rsa_key: SigningKey) -> None:
    token = jwt.encode(claims(ISSUER, AUDIENCE), rsa_key.private_key, algorithm="RS256")
    assert refused(verifier, token) == "token has no key id"


@pytest.mark.parametrize(
    "garbage", ["", "not-a-jwt", "a.b.c", "x" * 10_000, "eyJhbGciOiJSUzI1NiJ9.e30"]
)
def test_refuses_garbage(verifier: JwksVerifier, garbage: str) -> None:
    assert refused(verifier, garbage) in {"malformed token", "token has no key id"}


def test_unknown_kid_is_refused_after_one_refresh(
    issuer: JwksServer, verifier: JwksVerifier, rsa_key: SigningKey
) -> None:
    verify(verifier, mint(rsa_key, claims(ISSUER, AUDIENCE)))
    assert issuer.request_count == 1
    stranger = generate_ec_key("never-published")
    token = mint(stranger, claims(ISSUER, AUDIENCE))
    assert refused(verifier, token) == "token signing key unknown"


def test_key_rotation_is_picked_up_on_unknown_kid(issuer: JwksServer, rsa_key: SigningKey) -> None:
    verifier = JwksVerifier(issuer.url, ISSUER, AUDIENCE, min_refresh_interval=0.0)
    verify(verifier, mint(rsa_key, claims(ISSUER, AUDIENCE)))
    rotated = generate_ec_key("ec-rotated")
    issuer.set_keys([rotated])
    assert verify(verifier, mint(rotated, claims(ISSUER, AUDIENCE, "u-9"))).subject == "u-9"
    assert issuer.request_count == 2


def test_unknown_kid_refresh_is_rate_limited(
    issuer: JwksServer, verifier: JwksVerifier, rsa_key: SigningKey
) -> None:
    verify(verifier, mint(rsa_key, claims(ISSUER, AUDIENCE)))
    for _ in range(25):
        forged_kid = uuid.uuid4().hex
        refused(verifier, mint(rsa_key, claims(ISSUER, AUDIENCE), kid=forged_kid))
    assert issuer.request_count == 1, "forged kids must not make the issuer refetch"
    # Legitimate tokens keep working meanwhile.
    assert verify(verifier, mint(rsa_key, claims(ISSUER, AUDIENCE, "u-2"))).subject == "u-2"


def test_concurrent_first_requests_share_one_fetch(
    issuer: JwksServer, verifier: JwksVerifier, ec_key: SigningKey
) -> None:
    issuer.delay_seconds = 0.2
    tokens = [mint(ec_key, claims(ISSUER, AUDIENCE, f"user-{n}")) for n in range(30)]

    async def verify_all() -> list[Principal]:
        return await asyncio.gather(*(verifier.verify(token) for token in tokens))

    principals = asyncio.run(verify_all())
    assert [p.subject for p in principals] == [f"user-{n}" for n in range(30)]
    assert issuer.request_count == 1


def test_jwks_fetch_does_not_block_the_event_loop(
    issuer: JwksServer, verifier: JwksVerifier, rsa_key: SigningKey
) -> None:
    issuer.delay_seconds = 0.6
    token = mint(rsa_key, claims(ISSUER, AUDIENCE))

    async def scenario() -> tuple[float, float, int]:
        ticks = 0
        longest_gap = 0.0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks, longest_gap
            last = time.perf_counter()
            while not done.is_set():
                await asyncio.sleep(0.01)
                now = time.perf_counter()
                longest_gap = max(longest_gap, now - last)
                last = now
                ticks += 1

        ticking = asyncio.create_task(ticker())
        started = time.perf_counter()
        await verifier.verify(token)
        elapsed = time.perf_counter() - started
        done.set()
        await ticking
        return elapsed, longest_gap, ticks

    elapsed, longest_gap, ticks = asyncio.run(scenario())
    assert elapsed >= 0.5, "the fetch really was slow"
    assert longest_gap < 0.3, f"the event loop stalled for {longest_gap:.3f}s during the fetch"
    assert ticks >= 15


def test_issuer_outage_refuses_then_recovers(rsa_key: SigningKey) -> None:
    clock = FakeClock()
    with JwksServer([rsa_key]) as server:
        server.status = 503
        keys = JwksKeySet(server.url, failure_retry_interval=5.0, clock=clock)
        assert asyncio.run(keys.get(rsa_key.kid)) is None
        assert asyncio.run(keys.get(rsa_key.kid)) is None
        assert server.request_count == 1, "failures are rate limited too"
        server.status = 200
        clock.advance(5.0)
        assert asyncio.run(keys.get(rsa_key.kid)) is not None
        assert server.request_count == 2


def test_cached_keys_survive_an_outage_and_stale_keys_are_refetched(rsa_key: SigningKey) -> None:
    clock = FakeClock()
    with JwksServer([rsa_key]) as server:
        keys = JwksKeySet(server.url, max_age=3600.0, clock=clock)
        assert asyncio.run(keys.get(rsa_key.kid)) is not None
        clock.advance(3600.0)
        server.status = 500
        assert asyncio.run(keys.get(rsa_key.kid)) is not None, "an outage keeps the old keys"
        assert server.request_count == 2
        # A revoked key disappears once a refresh succeeds.
        server.status = 200
        server.set_keys([])
        clock.advance(3600.0)
        assert asyncio.run(keys.get(rsa_key.kid)) is None


def test_hanging_issuer_is_bounded_by_the_timeout(rsa_key: SigningKey) -> None:
    with JwksServer([rsa_key], delay_seconds=3.0) as server:
        verifier = JwksVerifier(server.url, ISSUER, AUDIENCE, http_timeout=0.3)
        started = time.perf_counter()
        assert refused(verifier, mint(rsa_key, claims(ISSUER, AUDIENCE))) == (
            "token signing key unknown"
        )
        assert time.perf_counter() - started < 1.5


def test_jwks_parsing_keeps_only_asymmetric_signing_keys(
    rsa_key: SigningKey, ec_key: SigningKey
) -> None:
    hmac_jwk = {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0", "alg": "HS256"}
    encryption_jwk = {**rsa_key.public_jwk(), "kid": "enc", "use": "enc"}
    rs512_jwk = {**rsa_key.public_jwk(), "kid": "rs512", "alg": "RS512"}
    no_kid = {k: v for k, v in ec_key.public_jwk().items() if k != "kid"}
    document = {
        "keys": [
            rsa_key.public_jwk(),
            ec_key.public_jwk(),
            hmac_jwk,
            encryption_jwk,
            rs512_jwk,
            no_kid,
            {"kty": "RSA", "kid": "broken"},
            "junk",
        ]
    }
    assert sorted(parse_jwks(document)) == ["ec-1", "rsa-1"]


def test_verified_tokens_are_cached(
    verifier: JwksVerifier, rsa_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    decodes = 0
    real_decode = jwt.decode

    def counting_decode(*args: Any, **kwargs: Any) -> Any:
        nonlocal decodes
        decodes += 1
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting_decode)  # the module service.auth calls
    token = mint(rsa_key, claims(ISSUER, AUDIENCE))
    first, second = verify(verifier, token), verify(verifier, token)
    assert first == second
    assert decodes == 1
    # A refused token is never cached: it is checked (and refused) every time.
    forged = tamper_payload(token, sub="someone-else")
    refused(verifier, forged)
    refused(verifier, forged)
    assert decodes == 3


def test_token_cache_expires_entries_and_evicts_least_recently_used() -> None:
    clock = FakeClock(1000.0)
    cache: ExpiringLruCache[str] = ExpiringLruCache(2, clock=clock)
    cache.put("a", "A", expires_at=1010.0)
    cache.put("b", "B", expires_at=1100.0)
    assert cache.get("a") == "A"  # now "b" is the least recently used
    cache.put("c", "C", expires_at=1100.0)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("A", None, "C")
    clock.advance(10.0)
    assert cache.get("a") is None, "an entry dies at its token's exp"
    cache.put("d", "D", expires_at=1005.0)
    assert cache.get("d") is None, "an already-expired entry is not stored"
    with pytest.raises(ValueError):
        ExpiringLruCache(0)


# --- configuration ----------------------------------------------------------------------------


def test_build_verifier_uses_local_key_only_for_local_without_jwks(tmp_path: Path) -> None:
    assert isinstance(build_verifier("local", None, None, None, tmp_path), LocalKeyVerifier)
    verifier = build_verifier(
        "local",
        "https://issuer.example.com/jwks.json",
        "https://issuer.example.com",
        "app",
        tmp_path,
    )
    assert isinstance(verifier, JwksVerifier)


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_build_verifier_outside_local_needs_every_auth_variable(
    tmp_path: Path, environment: str
) -> None:
    with pytest.raises(ValueError, match="AUTH_JWKS_URL, AUTH_ISSUER, AUTH_AUDIENCE"):
        build_verifier(environment, None, None, None, tmp_path)
    with pytest.raises(ValueError, match=r"missing: AUTH_AUDIENCE$"):
        build_verifier(
            environment, "https://i.example.com/jwks", "https://i.example.com", None, tmp_path
        )
    assert not (tmp_path / "dev-signing-key.pem").exists()


def test_build_verifier_rejects_bad_configuration(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ENVIRONMENT"):
        build_verifier("staging", None, None, None, tmp_path)
    with pytest.raises(ValueError, match="AUTH_JWKS_URL must be an https"):
        build_verifier("prod", "http://issuer.example.com/jwks", "iss", "aud", tmp_path)
    with pytest.raises(ValueError, match="AUTH_JWKS_URL must be an https"):
        build_verifier("prod", "file:///etc/passwd", "iss", "aud", tmp_path)


# --- the local development key ----------------------------------------------------------------


def test_local_token_round_trip(tmp_path: Path) -> None:
    verifier = LocalKeyVerifier(tmp_path)
    user = verify(verifier, mint_local_token("alice", False, 60, tmp_path))
    admin = verify(verifier, mint_local_token("root", True, 60, tmp_path))
    assert (user.subject, user.is_admin) == ("alice", False)
    assert (admin.subject, admin.is_admin) == ("root", True)
    assert user.claims["iss"] == LOCAL_ISSUER and user.claims["aud"] == LOCAL_AUDIENCE


def test_local_key_file_is_private_and_reused(tmp_path: Path) -> None:
    token = mint_local_token("alice", False, 60, tmp_path)
    key_file = tmp_path / "dev-signing-key.pem"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    before = key_file.read_bytes()
    assert verify(LocalKeyVerifier(tmp_path), token).subject == "alice"
    assert key_file.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["dev-signing-key.pem"], "no temp files left"


def test_concurrent_first_use_agrees_on_one_key(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        kids = set(pool.map(lambda _: load_or_create_signing_key(tmp_path).kid, range(16)))
    assert len(kids) == 1


def test_local_verifier_refuses_tokens_from_another_key_or_issuer(
    tmp_path: Path, ec_key: SigningKey
) -> None:
    verifier = LocalKeyVerifier(tmp_path / "mine")
    other_machine = mint_local_token("alice", True, 60, tmp_path / "theirs")
    assert refused(verifier, other_machine) == "token signing key unknown"
    external = mint(ec_key, claims(LOCAL_ISSUER, LOCAL_AUDIENCE))
    assert refused(verifier, external) == "token signing key unknown"
    forged = forge_alg_none(claims(LOCAL_ISSUER, LOCAL_AUDIENCE, admin=True), kid="x")
    assert refused(verifier, forged) == "token algorithm not accepted"


def test_local_expired_token_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = LocalKeyVerifier(tmp_path)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() - 3600)  # mint an hour ago
    token = mint_local_token("alice", False, 60, tmp_path)
    monkeypatch.undo()
    assert refused(verifier, token) == "token expired"


def test_mint_local_token_validates_its_inputs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ENVIRONMENT=prod"):
        mint_local_token("alice", False, 60, tmp_path, environment="prod")
    with pytest.raises(ValueError, match="ttl"):
        mint_local_token("alice", False, 0, tmp_path)
    with pytest.raises(ValueError, match="ttl"):
        mint_local_token("alice", False, 10**9, tmp_path)
    with pytest.raises(ValueError, match="subject"):
        mint_local_token("", False, 60, tmp_path)
    with pytest.raises(ValueError, match="subject"):
        mint_local_token("a\x00b", False, 60, tmp_path)


def test_corrupt_local_key_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "dev-signing-key.pem").write_bytes(b"not a key")
    with pytest.raises(ValueError, match="delete it to start over"):
        LocalKeyVerifier(tmp_path)


class FakeClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
