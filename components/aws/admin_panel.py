"""The admin panel's side of the stack: hosted sign-in, its OIDC client, its session key.

`AdminPanel(name, AdminPanelArgs(user_pool_id=pool.user_pool_id, domain="api.example.com"))`

- a Cognito user pool domain (a prefix domain, `<prefix>.auth.<region>.amazoncognito.com`) for
  the hosted sign-in page;
- an app client for the panel: the authorization code flow only, scopes `openid email`, the
  callback `https://<domain>/admin/callback` and the sign-out URL
  `https://<domain>/admin/signed-out` on the API's own domain, Cognito as the only identity
  provider. The panel always sends a PKCE S256 challenge, which Cognito verifies at the token
  endpoint (Cognito has no switch to demand PKCE of a client; the panel never omits it).
  **No client secret**: the panel is a server and could keep one, but a Cognito-generated
  secret is an attribute of the client resource and would sit in Pulumi state; PKCE and an
  exact HTTPS callback on our domain already bind the code to the browser that asked for it;
- the session signing key (`ADMIN_SESSION_KEY`): 64 random characters in a Secrets Manager
  secret encrypted with a customer-managed KMS key of its own (rotated yearly), like the other
  secrets. The value exists in Pulumi state only as an encrypted secret and never in the repo;
  ECS injects it into the task, and only the task's execution role may read it.

Args (`AdminPanelArgs`): `user_pool_id`, `domain` (the API's), `domain_prefix: str | None`
(default `<project>-<stack>-admin-<account id>`: prefix domains are unique per region),
`id_token_minutes: int = 60`, `recovery_window_in_days: int = 7`.

Outputs: `client_id`, `base_url` (`https://<domain>`), `sign_in_domain`,
`session_key_secret_arn`, `session_key_kms_key_arn`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.aws.policy_documents import account_context, customer_key, key_policy

CALLBACK_PATH = "/admin/callback"
SIGNED_OUT_PATH = "/admin/signed-out"
SCOPES = ("openid", "email")
SESSION_KEY_LENGTH = 64
# Cognito prefix domains: lower-case letters, digits and hyphens, at most 63, no "aws",
# "amazon" or "cognito" in them.
_PREFIX = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_RESERVED = ("aws", "amazon", "cognito")


@dataclass(frozen=True)
class AdminPanelArgs:
    user_pool_id: pulumi.Input[str]
    domain: str
    domain_prefix: str | None = None
    id_token_minutes: int = 60
    recovery_window_in_days: int = 7

    def __post_init__(self) -> None:
        if not self.domain or "/" in self.domain or ":" in self.domain:
            raise ValueError(f"AdminPanel: domain must be a host name, got {self.domain!r}")
        if self.domain_prefix is not None:
            check_prefix(self.domain_prefix)
        if not 5 <= self.id_token_minutes <= 24 * 60:
            raise ValueError(
                f"AdminPanel: id_token_minutes must be 5..1440, got {self.id_token_minutes}"
            )
        if not 7 <= self.recovery_window_in_days <= 30:
            raise ValueError(
                "AdminPanel: recovery_window_in_days must be between 7 and 30, "
                f"got {self.recovery_window_in_days}"
            )


def check_prefix(prefix: str) -> str:
    if not _PREFIX.match(prefix) or any(word in prefix for word in _RESERVED):
        raise ValueError(
            "AdminPanel: a Cognito domain prefix is 1..63 lower-case letters, digits and "
            f"hyphens without 'aws', 'amazon' or 'cognito', got {prefix!r}"
        )
    return prefix


def default_prefix(project: str, stack: str, account_id: str) -> str:
    cleaned = re.sub(r"[^a-z0-9-]+", "-", f"{project}-{stack}-admin".lower()).strip("-")
    for word in _RESERVED:
        cleaned = cleaned.replace(word, "x")
    return check_prefix(f"{cleaned[: 62 - len(account_id)]}-{account_id}")


class AdminPanel(pulumi.ComponentResource):
    client_id: pulumi.Output[str]
    base_url: pulumi.Output[str]
    sign_in_domain: pulumi.Output[str]
    session_key_secret_arn: pulumi.Output[str]
    session_key_kms_key_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: AdminPanelArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("awaterra:admin_panel:AdminPanel", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account = account_context(self)
        base_url = f"https://{args.domain}"

        prefix: pulumi.Input[str] = (
            args.domain_prefix
            if args.domain_prefix is not None
            else pulumi.Output.from_input(account.account_id).apply(
                lambda account_id: default_prefix(
                    pulumi.get_project(), pulumi.get_stack(), account_id
                )
            )
        )
        domain = aws.cognito.UserPoolDomain(
            f"{name}-domain", domain=prefix, user_pool_id=args.user_pool_id, opts=child
        )
        client = aws.cognito.UserPoolClient(
            f"{name}-client",
            user_pool_id=args.user_pool_id,
            generate_secret=False,
            allowed_oauth_flows_user_pool_client=True,
            allowed_oauth_flows=["code"],
            allowed_oauth_scopes=list(SCOPES),
            callback_urls=[base_url + CALLBACK_PATH],
            default_redirect_uri=base_url + CALLBACK_PATH,
            logout_urls=[base_url + SIGNED_OUT_PATH],
            supported_identity_providers=["COGNITO"],
            # Sign-in happens on the hosted page only; no password flow through this client.
            explicit_auth_flows=["ALLOW_REFRESH_TOKEN_AUTH"],
            prevent_user_existence_errors="ENABLED",
            enable_token_revocation=True,
            id_token_validity=args.id_token_minutes,
            access_token_validity=args.id_token_minutes,
            refresh_token_validity=1,
            token_validity_units=aws.cognito.UserPoolClientTokenValidityUnitsArgs(
                access_token="minutes",  # noqa: S106
                id_token="minutes",  # noqa: S106
                refresh_token="days",  # noqa: S106
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[domain]),
        )

        key = customer_key(
            f"{name}-session-key-kms",
            "Encrypts the admin panel's session signing key",
            key_policy(account.account_id),
            child,
        )
        value = random.RandomPassword(
            f"{name}-session-key-value", length=SESSION_KEY_LENGTH, special=False, opts=child
        )
        secret = aws.secretsmanager.Secret(
            f"{name}-session-key",
            description="Signs the admin panel's session cookie (ADMIN_SESSION_KEY)",
            kms_key_id=key.arn,
            recovery_window_in_days=args.recovery_window_in_days,
            opts=child,
        )
        version = aws.secretsmanager.SecretVersion(
            f"{name}-session-key-version",
            secret_id=secret.id,
            secret_string=value.result,  # RandomPassword.result is a secret output
            opts=child,
        )

        self.client_id = client.id
        self.base_url = pulumi.Output.from_input(base_url)
        self.sign_in_domain = pulumi.Output.all(domain.domain, account.region).apply(
            lambda v: f"{v[0]}.auth.{v[1]}.amazoncognito.com"
        )
        # Handed out once the value is stored: no task starts on an empty secret.
        self.session_key_secret_arn = pulumi.Output.all(secret.arn, version.id).apply(
            lambda both: both[0]
        )
        self.session_key_kms_key_arn = key.arn
        self.register_outputs(
            {
                "client_id": self.client_id,
                "base_url": self.base_url,
                "sign_in_domain": self.sign_in_domain,
                "session_key_secret_arn": self.session_key_secret_arn,
                "session_key_kms_key_arn": self.session_key_kms_key_arn,
            }
        )
