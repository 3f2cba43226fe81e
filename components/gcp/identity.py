"""Sign-in on Google Cloud: Identity Platform (Firebase Authentication) issues the API's tokens.

`Identity(name, IdentityArgs(project="p", authorized_domains=("api.example.com",)))`

Args (`IdentityArgs`):
- `project: Input[str]` (required). The project must have the Identity Toolkit API
  (`identitytoolkit.googleapis.com`) enabled and Identity Platform initialised once (console or
  `gcloud`); the config resource then manages the project's single configuration.
- `authorized_domains: Sequence[str] = ()` domains allowed for OAuth redirects / email links,
  added to `localhost` and the project's own `<project>.firebaseapp.com`/`.web.app`.
- `mfa: "DISABLED" | "ENABLED" | "MANDATORY" = "ENABLED"` second factor by TOTP app only
  (no SMS: SIM-swap prone and billed per message); `ENABLED` lets users enrol, `MANDATORY`
  requires it. `totp_adjacent_intervals: int = 1` (accepted clock skew, 30 s steps, 0..10).
- `self_signup: bool = True` (the mobile app registers users; `False` = admins create them),
  `self_deletion: bool = True` (users may delete their own account).

Sign-in: email and password only (`password_required`), one account per email; anonymous and
phone sign-in disabled; no blocking functions.

Tokens the API accepts (what the service's `AUTH_*` variables get):
- `issuer` = `https://securetoken.google.com/<project>`, `audience` = `<project>`,
- `jwks_url` = `https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com`
  (Google's signing keys for Firebase ID tokens, as a JWKS; they rotate, the service caches).

Admins: a user is an admin when the ID token carries the custom claim `admin: true` (the service
checks `claims.get("admin") is True`). Custom claims are set server-side with the Firebase Admin
SDK by someone holding `roles/firebaseauth.admin` (or `roles/identityplatform.admin`), e.g.
`firebase_admin.auth.set_custom_user_claims(uid, {"admin": True})` (Python) or
`getAuth().setCustomUserClaims(uid, { admin: true })` (Node); the claim appears in ID tokens
issued after that (the app refreshes its token, `getIdToken(true)`, or the user signs in again);
remove it with `set_custom_user_claims(uid, None)`. A user can never set their own claims.

Outputs: `issuer`, `audience`, `jwks_url`, `config_name`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_gcp as gcp

ISSUER_PREFIX = "https://securetoken.google.com/"
JWKS_URL = (
    "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com"
)
MFA_STATES = ("DISABLED", "ENABLED", "MANDATORY")
DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9-]{1,63}")


@dataclass(frozen=True)
class IdentityArgs:
    project: pulumi.Input[str]
    authorized_domains: Sequence[str] = ()
    mfa: Literal["DISABLED", "ENABLED", "MANDATORY"] = "ENABLED"
    totp_adjacent_intervals: int = 1
    self_signup: bool = True
    self_deletion: bool = True

    def __post_init__(self) -> None:
        if self.mfa not in MFA_STATES:
            raise ValueError(f"Identity: mfa must be one of {MFA_STATES}, got {self.mfa!r}")
        if not 0 <= self.totp_adjacent_intervals <= 10:
            raise ValueError(
                f"Identity: totp_adjacent_intervals must be 0..10, "
                f"got {self.totp_adjacent_intervals}"
            )
        bad = [d for d in self.authorized_domains if not DOMAIN.fullmatch(d)]
        if bad:
            raise ValueError(f"Identity: authorized_domains must be bare host names: {bad}")
        if len(set(self.authorized_domains)) != len(self.authorized_domains):
            raise ValueError("Identity: authorized_domains lists a domain twice")


def _authorized_domains(project: str, extra: Sequence[str]) -> list[str]:
    defaults = ["localhost", f"{project}.firebaseapp.com", f"{project}.web.app"]
    return defaults + [d for d in extra if d not in defaults]


class Identity(pulumi.ComponentResource):
    """Identity Platform config: email/password sign-in, TOTP MFA, Firebase ID tokens."""

    issuer: pulumi.Output[str]
    audience: pulumi.Output[str]
    jwks_url: str
    config_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: IdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("awaterra:gcp:Identity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        project = pulumi.Output.from_input(args.project)

        mfa = gcp.identityplatform.ConfigMfaArgs(
            state=args.mfa,
            provider_configs=[
                gcp.identityplatform.ConfigMfaProviderConfigArgs(
                    state="DISABLED" if args.mfa == "DISABLED" else "ENABLED",
                    totp_provider_config=gcp.identityplatform.ConfigMfaProviderConfigTotpProviderConfigArgs(
                        adjacent_intervals=args.totp_adjacent_intervals
                    ),
                )
            ],
        )
        config = gcp.identityplatform.Config(
            f"{name}-config",
            project=args.project,
            authorized_domains=project.apply(
                lambda p: _authorized_domains(p, args.authorized_domains)
            ),
            autodelete_anonymous_users=True,
            sign_in=gcp.identityplatform.ConfigSignInArgs(
                allow_duplicate_emails=False,
                email=gcp.identityplatform.ConfigSignInEmailArgs(
                    enabled=True, password_required=True
                ),
                anonymous=gcp.identityplatform.ConfigSignInAnonymousArgs(enabled=False),
                phone_number=gcp.identityplatform.ConfigSignInPhoneNumberArgs(enabled=False),
            ),
            mfa=mfa,
            client=gcp.identityplatform.ConfigClientArgs(
                permissions=gcp.identityplatform.ConfigClientPermissionsArgs(
                    disabled_user_signup=not args.self_signup,
                    disabled_user_deletion=not args.self_deletion,
                )
            ),
            opts=child,
        )

        self.issuer = project.apply(lambda p: f"{ISSUER_PREFIX}{p}")
        self.audience = project
        self.jwks_url = JWKS_URL
        self.config_name = config.name
        self.register_outputs(
            {
                "issuer": self.issuer,
                "audience": self.audience,
                "jwks_url": self.jwks_url,
                "config_name": self.config_name,
            }
        )
