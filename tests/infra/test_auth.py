"""UserPool: strong pool, public mobile client without a secret, admin group, verifier values."""

from __future__ import annotations

import pulumi
import pytest

from components.aws.auth import UserPool, UserPoolArgs
from ops.offline import Recording, run_program


def _run(args: UserPoolArgs) -> Recording:
    def program() -> None:
        pool = UserPool("auth", args)
        pulumi.export("issuer", pool.issuer)
        pulumi.export("jwks_url", pool.jwks_url)
        pulumi.export("audience", pool.audience)
        pulumi.export("client_id", pool.client_id)
        pulumi.export("user_pool_id", pool.user_pool_id)

    return run_program("dev", program=program, use_stack_file=False)


def test_pool_defaults_are_strict() -> None:
    pool = _run(UserPoolArgs()).one("aws:cognito/userPool:UserPool").inputs
    assert pool["usernameAttributes"] == ["email"]
    assert pool["usernameConfiguration"] == {"caseSensitive": False}
    policy = pool["passwordPolicy"]
    assert policy["minimumLength"] >= 12
    assert all(policy[k] for k in ("requireLowercase", "requireUppercase", "requireNumbers",
                                   "requireSymbols"))
    assert pool["deletionProtection"] == "ACTIVE"
    assert pool["mfaConfiguration"] == "OPTIONAL"
    assert pool["softwareTokenMfaConfiguration"] == {"enabled": True}
    assert pool["accountRecoverySetting"]["recoveryMechanisms"] == [
        {"name": "verified_email", "priority": 1}
    ]
    assert pool["userPoolAddOns"] == {"advancedSecurityMode": "ENFORCED"}
    assert pool["userPoolTier"] == "PLUS"
    assert "smsConfiguration" not in pool


def test_caller_can_opt_out_of_protection_and_threat_detection() -> None:
    pool = _run(
        UserPoolArgs(
            mfa="OFF", deletion_protection=False, tier="ESSENTIALS", threat_protection="OFF"
        )
    ).one("aws:cognito/userPool:UserPool").inputs
    assert pool["deletionProtection"] == "INACTIVE"
    assert pool["mfaConfiguration"] == "OFF"
    assert "softwareTokenMfaConfiguration" not in pool
    assert "userPoolAddOns" not in pool
    assert pool["userPoolTier"] == "ESSENTIALS"


@pytest.mark.parametrize("tier", ["LITE", "ESSENTIALS"])
def test_the_cheaper_plans_are_chosen_as_asked(tier: str) -> None:
    pool = _run(UserPoolArgs(tier=tier, threat_protection="OFF"))  # type: ignore[arg-type]
    inputs = pool.one("aws:cognito/userPool:UserPool").inputs
    assert inputs["userPoolTier"] == tier
    assert "userPoolAddOns" not in inputs


def test_mfa_on_requires_a_software_token() -> None:
    pool = _run(UserPoolArgs(mfa="ON")).one("aws:cognito/userPool:UserPool").inputs
    assert pool["mfaConfiguration"] == "ON"
    assert pool["softwareTokenMfaConfiguration"] == {"enabled": True}


def test_mobile_client_is_public_and_limited_to_srp_and_refresh() -> None:
    recording = _run(UserPoolArgs())
    client = recording.one("aws:cognito/userPoolClient:UserPoolClient").inputs
    assert client["generateSecret"] is False
    assert sorted(client["explicitAuthFlows"]) == [
        "ALLOW_REFRESH_TOKEN_AUTH",
        "ALLOW_USER_SRP_AUTH",
    ]
    assert client["preventUserExistenceErrors"] == "ENABLED"
    assert client["enableTokenRevocation"] is True
    assert client["accessTokenValidity"] == 60
    assert client["refreshTokenValidity"] == 30
    assert client["tokenValidityUnits"] == {
        "accessToken": "minutes", "idToken": "minutes", "refreshToken": "days"
    }
    pool = recording.one("aws:cognito/userPool:UserPool")
    assert client["userPoolId"] == pool.id


def test_admin_group_exists_in_the_pool() -> None:
    recording = _run(UserPoolArgs())
    group = recording.one("aws:cognito/userGroup:UserGroup").inputs
    assert group["name"] == "admin"
    assert group["userPoolId"] == recording.one("aws:cognito/userPool:UserPool").id


def test_outputs_are_what_the_service_verifies_tokens_with() -> None:
    recording = _run(UserPoolArgs())
    pool = recording.one("aws:cognito/userPool:UserPool")
    issuer = recording.outputs["issuer"]
    assert issuer == f"https://{pool.outputs['endpoint']}"
    assert issuer.startswith("https://cognito-idp.us-east-1.amazonaws.com/")
    assert recording.outputs["jwks_url"] == f"{issuer}/.well-known/jwks.json"
    client = recording.one("aws:cognito/userPoolClient:UserPoolClient")
    assert recording.outputs["audience"] == recording.outputs["client_id"] == client.id
    assert recording.outputs["user_pool_id"] == pool.id


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mfa": "SMS"}, "mfa must be one of"),
        ({"threat_protection": "MAX"}, "threat_protection must be one of"),
        ({"tier": "GOLD"}, "tier must be one of"),
        ({"tier": "ESSENTIALS"}, "threat_protection needs tier PLUS"),
        ({"threat_protection": "OFF"}, "PLUS is only worth its price"),
        ({"password_min_length": 6}, "password_min_length must be between 8 and 99"),
        ({"refresh_token_days": 0}, "refresh_token_days"),
        ({"admin_group": ""}, "admin_group"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        UserPoolArgs(**kwargs)  # type: ignore[arg-type]
