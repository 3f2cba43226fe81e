"""Cognito user pools: password strength, MFA, deletion protection."""

from __future__ import annotations

from collections.abc import Iterator

from policy.model import Context, Resource, Severity
from policy.rules._common import require_at_least, resource_rule
from policy.rules.types import COGNITO_USER_POOL
from policy.values import UNKNOWN, get

MINIMUM_PASSWORD_LENGTH = 12


@resource_rule(
    "cognito-password-policy",
    f"Cognito passwords are >= {MINIMUM_PASSWORD_LENGTH} characters",
    "CIS AWS Foundations 1.8 (password length), applied to Cognito; NIST SP 800-63B 5.1.1",
    Severity.MEDIUM,
    COGNITO_USER_POOL,
    "Set password_policy.minimum_length >= 12.",
)
def password_policy(resource: Resource, context: Context) -> Iterator[str]:
    if get(resource.props, "passwordPolicy") is None:
        yield f"passwordPolicy is not set (Cognito's default is 8, need {MINIMUM_PASSWORD_LENGTH})"
        return
    yield from require_at_least(
        resource,
        "passwordPolicy.minimumLength",
        MINIMUM_PASSWORD_LENGTH,
        "passwordPolicy.minimumLength",
    )


@resource_rule(
    "cognito-mfa",
    "Cognito offers or requires MFA",
    "CIS AWS Foundations 1.10 (MFA for console users), applied to Cognito",
    Severity.MEDIUM,
    COGNITO_USER_POOL,
    'Set mfa_configuration to "OPTIONAL" or "ON" (awaterra:cognitoMfa) with software tokens.',
)
def mfa(resource: Resource, context: Context) -> Iterator[str]:
    setting = get(resource.props, "mfaConfiguration")
    if setting is not UNKNOWN and setting not in ("ON", "OPTIONAL"):
        yield f"mfaConfiguration is {setting or 'OFF (default)'}"


@resource_rule(
    "cognito-deletion-protection",
    "Cognito user pools have deletion protection",
    "AWS Well-Architected REL09 (protect data from deletion); Cognito DeletionProtection",
    Severity.MEDIUM,
    COGNITO_USER_POOL,
    'Set deletion_protection="ACTIVE".',
)
def deletion_protection(resource: Resource, context: Context) -> Iterator[str]:
    setting = get(resource.props, "deletionProtection")
    if setting is not UNKNOWN and setting != "ACTIVE":
        yield f"deletionProtection is {setting or 'INACTIVE (default)'}"


RULES = [password_policy, mfa, deletion_protection]
