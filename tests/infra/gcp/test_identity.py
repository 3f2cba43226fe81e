"""Identity: Identity Platform config and the issuer, audience and JWKS the API verifies with."""

from __future__ import annotations

import pulumi
import pytest

from components.gcp.identity import JWKS_URL, Identity, IdentityArgs
from ops.offline import Recording, run_program

PROJECT = "awaterra-prod"
CONFIG = "gcp:identityplatform/config:Config"


def _run(args: IdentityArgs) -> Recording:
    def program() -> None:
        identity = Identity("auth", args)
        pulumi.export("issuer", identity.issuer)
        pulumi.export("audience", identity.audience)
        pulumi.export("jwks_url", identity.jwks_url)
        pulumi.export("config_name", identity.config_name)

    return run_program("prod", program=program, use_stack_file=False)


@pytest.fixture(scope="module")
def recording() -> Recording:
    return _run(IdentityArgs(project=PROJECT, authorized_domains=("api.example.com",)))


def test_token_settings_are_firebase_id_tokens_of_the_project(recording: Recording) -> None:
    assert recording.outputs == {
        "issuer": f"https://securetoken.google.com/{PROJECT}",
        "audience": PROJECT,
        "jwks_url": JWKS_URL,
        "config_name": f"projects/{PROJECT}/config",
    }
    assert JWKS_URL == (
        "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com"
    )


def test_email_password_only(recording: Recording) -> None:
    config = recording.one(CONFIG).inputs
    assert config["project"] == PROJECT
    assert config["signIn"] == {
        "allowDuplicateEmails": False,
        "email": {"enabled": True, "passwordRequired": True},
        "anonymous": {"enabled": False},
        "phoneNumber": {"enabled": False},
    }
    assert "blockingFunctions" not in config
    assert config["autodeleteAnonymousUsers"] is True


def test_authorized_domains(recording: Recording) -> None:
    assert recording.one(CONFIG).inputs["authorizedDomains"] == [
        "localhost",
        f"{PROJECT}.firebaseapp.com",
        f"{PROJECT}.web.app",
        "api.example.com",
    ]


def test_mfa_by_totp_is_available_and_no_sms(recording: Recording) -> None:
    mfa = recording.one(CONFIG).inputs["mfa"]
    assert mfa["state"] == "ENABLED"
    assert "PHONE_SMS" not in (mfa.get("enabledProviders") or [])
    assert mfa["providerConfigs"] == [
        {"state": "ENABLED", "totpProviderConfig": {"adjacentIntervals": 1}}
    ]
    assert recording.one(CONFIG).inputs["client"] == {
        "permissions": {"disabledUserSignup": False, "disabledUserDeletion": False}
    }


def test_children_are_parented(recording: Recording) -> None:
    component = recording.one("awaterra:gcp:Identity")
    assert recording.one(CONFIG).parent == component.urn


def test_opt_outs() -> None:
    recording = _run(
        IdentityArgs(project=PROJECT, mfa="MANDATORY", self_signup=False, self_deletion=False)
    )
    config = recording.one(CONFIG).inputs
    assert config["mfa"]["state"] == "MANDATORY"
    assert config["client"]["permissions"] == {
        "disabledUserSignup": True,
        "disabledUserDeletion": True,
    }
    off = _run(IdentityArgs(project=PROJECT, mfa="DISABLED")).one(CONFIG).inputs["mfa"]
    assert off["state"] == "DISABLED"
    assert off["providerConfigs"][0]["state"] == "DISABLED"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mfa": "OPTIONAL"}, "mfa must be one of"),
        ({"totp_adjacent_intervals": 11}, "totp_adjacent_intervals"),
        ({"authorized_domains": ("https://app.example.com",)}, "bare host names"),
        ({"authorized_domains": ("a.example.com", "a.example.com")}, "twice"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        IdentityArgs(project=PROJECT, **kwargs)  # type: ignore[arg-type]
