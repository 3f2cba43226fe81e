"""Every way a bearer token can be wrong answers 401; the right ones get through."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.service.conftest import AUDIENCE, ISSUER, Issuer, unique
from tests.support.jwks import (
    claims,
    forge_alg_none,
    forge_hmac_with_public_key,
    generate_rsa_key,
    mint,
    tamper_payload,
)

pytestmark = pytest.mark.anyio

BAD_TOKENS: dict[str, Callable[[Issuer], str]] = {
    "expired": lambda i: mint(i.rsa, claims(ISSUER, AUDIENCE, "u-1", ttl=-120)),
    "wrong-issuer": lambda i: mint(i.rsa, claims("https://evil.test/", AUDIENCE, "u-1")),
    "wrong-audience": lambda i: mint(i.rsa, claims(ISSUER, "someone-else", "u-1")),
    "no-audience": lambda i: mint(i.rsa, claims(ISSUER, None, "u-1")),
    "unknown-kid": lambda i: mint(generate_rsa_key("rogue"), claims(ISSUER, AUDIENCE, "u-1")),
    "kid-of-other-key": lambda i: mint(
        generate_rsa_key(), claims(ISSUER, AUDIENCE, "u-1"), kid=i.rsa.kid
    ),
    "tampered": lambda i: tamper_payload(i.token("u-1"), sub="u-2"),
    "tampered-admin": lambda i: tamper_payload(i.token("u-1"), admin=True),
    "alg-none": lambda i: forge_alg_none(claims(ISSUER, AUDIENCE, "u-1"), i.rsa.kid),
    "hmac-with-public-key": lambda i: forge_hmac_with_public_key(
        i.rsa, claims(ISSUER, AUDIENCE, "u-1")
    ),
    "garbage": lambda i: "not.a.token",
}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("name", sorted(BAD_TOKENS))
async def test_bad_tokens_are_401(client: httpx.AsyncClient, issuer: Issuer, name: str) -> None:
    token = BAD_TOKENS[name](issuer)
    response = await client.get("/map", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert token not in response.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token x"])
async def test_missing_or_non_bearer_credentials_are_401(
    client: httpx.AsyncClient, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = await client.get("/map", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_rs256_and_es256_tokens_are_accepted(
    client: httpx.AsyncClient, issuer: Issuer
) -> None:
    for key in (issuer.rsa, issuer.ec):
        user = unique("u")
        token = issuer.token(user, key=key)
        response = await client.get("/map", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
        assert response.json()["data"]["userId"] == user


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_admin_claims(client: httpx.AsyncClient, issuer: Issuer) -> None:
    body = {
        "title": "t",
        "description": "",
        "durationSeconds": 1,
        "category": "c",
        "published": False,
    }
    plain = issuer.token("someone")
    by_group = issuer.token("ops", admin=True)
    by_claim = mint(issuer.rsa, claims(ISSUER, AUDIENCE, "ops-2", admin=True))
    not_really = mint(issuer.rsa, claims(ISSUER, AUDIENCE, "ops-3", admin="true"))
    path = f"/practices/{unique('p')}"
    for token, status in ((plain, 403), (not_really, 403), (by_group, 201), (by_claim, 200)):
        response = await client.put(path, json=body, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == status, (token, response.text)
    assert response.json()["data"]["published"] is False


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_cognito_access_token_with_client_id(
    client: httpx.AsyncClient, issuer: Issuer
) -> None:
    token = mint(issuer.rsa, claims(ISSUER, None, "cog-1", client_id=AUDIENCE))
    response = await client.get("/map", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
