"""Sign-in for the mobile app: a Cognito user pool, a public app client and an `admin` group.

`UserPool(name, UserPoolArgs(mfa="OPTIONAL", deletion_protection=True))`

Args (`UserPoolArgs`), every default the safe one:
- `mfa: "OFF" | "OPTIONAL" | "ON" = "OPTIONAL"` (settings `cognitoMfa`); TOTP (software token)
  is the second factor whenever MFA is not OFF (no SMS: no SIM-swap, no SMS bill).
- `deletion_protection: bool = True` (pass `False` only for throwaway stacks).
- `tier: "LITE" | "ESSENTIALS" | "PLUS" = "PLUS"` the Cognito feature plan (settings
  `cognitoTier`), which sets the price per monthly active user (ops/cost.py).
- `threat_protection: "OFF" | "AUDIT" | "ENFORCED" = "ENFORCED"` Cognito advanced security
  (compromised-credential and adaptive-auth checks); only the PLUS plan has it, so it must be
  OFF on LITE and ESSENTIALS, and PLUS without it is refused (paying for what is not used).
- `password_min_length: int = 12` (8..99), upper, lower, digit and symbol always required,
  `password_history_size: int = 5`, `temporary_password_days: int = 3`.
- `allow_self_signup: bool = True` (False: only administrators create users).
- `access_token_minutes: int = 60`, `id_token_minutes: int = 60`, `refresh_token_days: int = 30`.
- `admin_group: str = "admin"` the group whose members the API treats as administrators
  (the service reads the `cognito:groups` claim).

Users sign in with their email address (case-insensitive); accounts are recovered only through
a verified email; a changed email is not used until verified. The app client has no secret (a
secret cannot be kept in a mobile binary), allows SRP and refresh-token flows only, revokes
refresh tokens on sign-out and hides whether an account exists.

Outputs: `user_pool_id`, `user_pool_arn`, `client_id`, `issuer`
(`https://cognito-idp.<region>.amazonaws.com/<pool id>`), `jwks_url`
(`<issuer>/.well-known/jwks.json`), `audience` (= client id), `admin_group_name`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

MfaMode = Literal["OFF", "OPTIONAL", "ON"]
ThreatProtection = Literal["OFF", "AUDIT", "ENFORCED"]
Tier = Literal["LITE", "ESSENTIALS", "PLUS"]
TIERS: tuple[str, ...] = ("LITE", "ESSENTIALS", "PLUS")
MFA_MODES: tuple[str, ...] = ("OFF", "OPTIONAL", "ON")
THREAT_PROTECTION_MODES: tuple[str, ...] = ("OFF", "AUDIT", "ENFORCED")


@dataclass(frozen=True)
class UserPoolArgs:
    mfa: MfaMode = "OPTIONAL"
    deletion_protection: bool = True
    tier: Tier = "PLUS"
    threat_protection: ThreatProtection = "ENFORCED"
    password_min_length: int = 12
    password_history_size: int = 5
    temporary_password_days: int = 3
    allow_self_signup: bool = True
    access_token_minutes: int = 60
    id_token_minutes: int = 60
    refresh_token_days: int = 30
    admin_group: str = "admin"

    def __post_init__(self) -> None:
        if self.mfa not in MFA_MODES:
            raise ValueError(f"UserPool: mfa must be one of {MFA_MODES}, got {self.mfa!r}")
        if self.threat_protection not in THREAT_PROTECTION_MODES:
            raise ValueError(
                f"UserPool: threat_protection must be one of {THREAT_PROTECTION_MODES}, "
                f"got {self.threat_protection!r}"
            )
        if self.tier not in TIERS:
            raise ValueError(f"UserPool: tier must be one of {TIERS}, got {self.tier!r}")
        if (self.tier == "PLUS") != (self.threat_protection != "OFF"):
            raise ValueError(
                "UserPool: threat_protection needs tier PLUS and PLUS is only worth its price "
                f"with it; got tier {self.tier} with threat_protection {self.threat_protection}"
            )
        _require_range("password_min_length", self.password_min_length, 8, 99)
        _require_range("password_history_size", self.password_history_size, 0, 24)
        _require_range("temporary_password_days", self.temporary_password_days, 1, 365)
        _require_range("access_token_minutes", self.access_token_minutes, 5, 24 * 60)
        _require_range("id_token_minutes", self.id_token_minutes, 5, 24 * 60)
        _require_range("refresh_token_days", self.refresh_token_days, 1, 3650)
        if not self.admin_group:
            raise ValueError("UserPool: admin_group must not be empty")


def _require_range(field: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValueError(f"UserPool: {field} must be between {low} and {high}, got {value}")


class UserPool(pulumi.ComponentResource):
    """Cognito user pool + mobile app client + admin group; the values the API verifies with."""

    user_pool_id: pulumi.Output[str]
    user_pool_arn: pulumi.Output[str]
    client_id: pulumi.Output[str]
    issuer: pulumi.Output[str]
    jwks_url: pulumi.Output[str]
    audience: pulumi.Output[str]
    admin_group_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: UserPoolArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("awaterra:auth:UserPool", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        mfa_enabled = args.mfa != "OFF"

        pool = aws.cognito.UserPool(
            f"{name}-pool",
            username_attributes=["email"],
            auto_verified_attributes=["email"],
            username_configuration=aws.cognito.UserPoolUsernameConfigurationArgs(
                case_sensitive=False
            ),
            password_policy=aws.cognito.UserPoolPasswordPolicyArgs(
                minimum_length=args.password_min_length,
                require_lowercase=True,
                require_uppercase=True,
                require_numbers=True,
                require_symbols=True,
                password_history_size=args.password_history_size,
                temporary_password_validity_days=args.temporary_password_days,
            ),
            mfa_configuration=args.mfa,
            software_token_mfa_configuration=(
                aws.cognito.UserPoolSoftwareTokenMfaConfigurationArgs(enabled=True)
                if mfa_enabled
                else None
            ),
            account_recovery_setting=aws.cognito.UserPoolAccountRecoverySettingArgs(
                recovery_mechanisms=[
                    aws.cognito.UserPoolAccountRecoverySettingRecoveryMechanismArgs(
                        name="verified_email", priority=1
                    )
                ]
            ),
            user_attribute_update_settings=aws.cognito.UserPoolUserAttributeUpdateSettingsArgs(
                attributes_require_verification_before_updates=["email"]
            ),
            admin_create_user_config=aws.cognito.UserPoolAdminCreateUserConfigArgs(
                allow_admin_create_user_only=not args.allow_self_signup
            ),
            deletion_protection="ACTIVE" if args.deletion_protection else "INACTIVE",
            user_pool_tier=args.tier,
            user_pool_add_ons=(
                aws.cognito.UserPoolUserPoolAddOnsArgs(
                    advanced_security_mode=args.threat_protection
                )
                if args.threat_protection != "OFF"
                else None
            ),
            opts=child,
        )

        client = aws.cognito.UserPoolClient(
            f"{name}-mobile",
            user_pool_id=pool.id,
            generate_secret=False,
            explicit_auth_flows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            supported_identity_providers=["COGNITO"],
            prevent_user_existence_errors="ENABLED",
            enable_token_revocation=True,
            access_token_validity=args.access_token_minutes,
            id_token_validity=args.id_token_minutes,
            refresh_token_validity=args.refresh_token_days,
            # Units, not secrets (ruff's S106 reads `*_token=` as a password).
            token_validity_units=aws.cognito.UserPoolClientTokenValidityUnitsArgs(
                access_token="minutes",  # noqa: S106
                id_token="minutes",  # noqa: S106
                refresh_token="days",  # noqa: S106
            ),
            opts=child,
        )

        admin_group = aws.cognito.UserGroup(
            f"{name}-admin",
            user_pool_id=pool.id,
            name=args.admin_group,
            description="Administrators of the awaterra API (practices, remote config, any user)",
            precedence=0,
            opts=child,
        )

        self.user_pool_id = pool.id
        self.user_pool_arn = pool.arn
        self.client_id = client.id
        # The pool's endpoint is exactly `cognito-idp.<region>.amazonaws.com/<pool id>`.
        self.issuer = pool.endpoint.apply(lambda endpoint: f"https://{endpoint}")
        self.jwks_url = self.issuer.apply(lambda issuer: f"{issuer}/.well-known/jwks.json")
        self.audience = client.id
        self.admin_group_name = admin_group.name
        self.register_outputs(
            {
                "user_pool_id": self.user_pool_id,
                "user_pool_arn": self.user_pool_arn,
                "client_id": self.client_id,
                "issuer": self.issuer,
                "jwks_url": self.jwks_url,
                "audience": self.audience,
                "admin_group_name": self.admin_group_name,
            }
        )
