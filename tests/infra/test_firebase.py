"""FirebaseApps: APIs kept on destroy, apps only when asked, locked API keys, secret configs."""

from __future__ import annotations

import json
import plistlib
from typing import Any

import pulumi
import pytest
from pulumi.runtime.sync_await import _sync_await

from components.firebase import (
    CLIENT_APIS,
    MANAGEMENT_APIS,
    FirebaseApps,
    FirebaseAppsArgs,
    FirebaseConfigError,
    validate_bundle_id,
    validate_package_name,
    validate_sha1,
)
from ops.offline import Recording, run_program

PROJECT = "acme-mobile-prod"
BUNDLE = "com.acme.awaterra"
PACKAGE = "com.acme.awaterra"
SHA1 = "DA:39:A3:EE:5E:6B:4B:0D:32:55:BF:EF:95:60:18:90:AF:D8:07:09"
SHA1_HEX = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

API_KEY = "gcp:projects/apiKey:ApiKey"
APPLE = "gcp:firebase/appleApp:AppleApp"
ANDROID = "gcp:firebase/androidApp:AndroidApp"
SERVICE = "gcp:projects/service:Service"


def _args(**overrides: Any) -> FirebaseAppsArgs:
    values: dict[str, Any] = {
        "project_id": PROJECT,
        "display_name": "Awaterra",
        "ios_bundle_id": BUNDLE,
        "app_store_id": "1234567890",
        "team_id": "ABCDE12345",
        "android_package_name": PACKAGE,
        "android_sha1": [SHA1],
        "android_sha256": [SHA256],
    }
    values.update(overrides)
    return FirebaseAppsArgs(**values)


def _run(args: FirebaseAppsArgs) -> tuple[Recording, FirebaseApps]:
    made: list[FirebaseApps] = []

    def program() -> None:
        apps = FirebaseApps("firebase", args)
        made.append(apps)
        if apps.ios_config is not None:
            pulumi.export("ios_config", apps.ios_config)
        if apps.android_config is not None:
            pulumi.export("android_config", apps.android_config)

    return run_program("dev", program=program, use_stack_file=False), made[0]


def test_provider_targets_the_configured_project_and_every_child_uses_it() -> None:
    recording, _ = _run(_args())
    provider = recording.one("pulumi:providers:gcp")
    assert provider.inputs["project"] == PROJECT
    assert provider.inputs["billingProject"] == PROJECT
    component = next(r for r in recording if r.type == "awaterra:firebase:FirebaseApps")
    for resource in recording:
        if resource.type.startswith("gcp:"):
            assert resource.parent == component.urn, resource.name
            assert resource.provider and resource.provider.startswith(provider.urn), resource.name
            assert resource.inputs["project"] == PROJECT, resource.name


def test_apis_are_enabled_and_never_disabled_on_destroy() -> None:
    recording, _ = _run(_args())
    services = recording.of_type(SERVICE)
    assert sorted(s.inputs["service"] for s in services) == sorted(
        (*MANAGEMENT_APIS, *CLIENT_APIS)
    )
    assert "firebasecrashlytics.googleapis.com" in CLIENT_APIS
    assert "firebase.googleapis.com" in MANAGEMENT_APIS
    for service in services:
        assert service.inputs["disableOnDestroy"] is False
        assert service.inputs["disableDependentServices"] is False


def test_no_app_and_no_key_unless_configured() -> None:
    recording, apps = _run(FirebaseAppsArgs(project_id=PROJECT))
    assert recording.of_type(APPLE) == recording.of_type(ANDROID) == []
    assert recording.of_type(API_KEY) == []
    assert recording.of_type("gcp:firebase/project:Project")
    assert apps.ios_config is None and apps.android_config is None
    assert recording.invokes == []


def test_only_the_configured_platform_is_created() -> None:
    recording, apps = _run(
        _args(android_package_name=None, android_sha1=[], android_sha256=[])
    )
    assert len(recording.of_type(APPLE)) == 1
    assert recording.of_type(ANDROID) == []
    assert len(recording.of_type(API_KEY)) == 1
    assert apps.android_config is None and apps.ios_config is not None


def test_ios_key_is_restricted_to_the_bundle_and_firebase_apis_and_bound_to_the_app() -> None:
    recording, _ = _run(_args())
    key = recording.one(API_KEY, "ios")
    restrictions = key.inputs["restrictions"]
    assert restrictions["iosKeyRestrictions"] == {"allowedBundleIds": [BUNDLE]}
    assert sorted(t["service"] for t in restrictions["apiTargets"]) == sorted(CLIENT_APIS)
    assert all("methods" not in t for t in restrictions["apiTargets"])
    assert set(restrictions) == {"iosKeyRestrictions", "apiTargets"}
    app = recording.one(APPLE).inputs
    assert app["bundleId"] == BUNDLE
    assert app["appStoreId"] == "1234567890"
    assert app["teamId"] == "ABCDE12345"
    assert app["apiKeyId"] == key.outputs["uid"]
    assert app["deletionPolicy"] == "ABANDON"


def test_android_key_is_restricted_to_package_and_sha1_and_bound_to_the_app() -> None:
    recording, _ = _run(_args(android_sha1=[SHA1, "a" * 40]))
    key = recording.one(API_KEY, "android")
    restrictions = key.inputs["restrictions"]
    assert restrictions["androidKeyRestrictions"] == {
        "allowedApplications": [
            {"packageName": PACKAGE, "sha1Fingerprint": SHA1_HEX.upper()},
            {"packageName": PACKAGE, "sha1Fingerprint": "A" * 40},
        ]
    }
    assert sorted(t["service"] for t in restrictions["apiTargets"]) == sorted(CLIENT_APIS)
    assert set(restrictions) == {"androidKeyRestrictions", "apiTargets"}
    app = recording.one(ANDROID).inputs
    assert app["packageName"] == PACKAGE
    assert app["sha1Hashes"] == [SHA1_HEX, "a" * 40]
    assert app["sha256Hashes"] == [SHA256]
    assert app["apiKeyId"] == key.outputs["uid"]


def test_every_api_key_is_restricted() -> None:
    recording, _ = _run(_args())
    keys = recording.of_type(API_KEY)
    assert len(keys) == 2
    for key in keys:
        restrictions = key.inputs.get("restrictions") or {}
        assert restrictions.get("apiTargets"), f"{key.name} may call any API"
        assert restrictions.get("iosKeyRestrictions") or restrictions.get(
            "androidKeyRestrictions"
        ), f"{key.name} may be used by any app"
        assert "serverKeyRestrictions" not in restrictions
        assert "browserKeyRestrictions" not in restrictions


def test_config_outputs_are_secret_and_decode_to_the_files() -> None:
    recording, apps = _run(_args())
    assert apps.ios_config is not None and apps.android_config is not None
    assert _sync_await(apps.ios_config.is_secret()) is True
    assert _sync_await(apps.android_config.is_secret()) is True

    apple = recording.one(APPLE)
    plist = plistlib.loads(recording.outputs["ios_config"].encode())
    assert plist["BUNDLE_ID"] == BUNDLE
    assert plist["PROJECT_ID"] == PROJECT
    assert plist["GOOGLE_APP_ID"] == apple.outputs["appId"]
    assert plist["API_KEY"] == recording.one(API_KEY, "ios").outputs["keyString"]

    android = recording.one(ANDROID)
    services = json.loads(recording.outputs["android_config"])
    assert services["project_info"]["project_id"] == PROJECT
    (client,) = services["client"]
    assert client["client_info"]["mobilesdk_app_id"] == android.outputs["appId"]
    assert client["client_info"]["android_client_info"]["package_name"] == PACKAGE
    assert client["api_key"] == [
        {"current_key": recording.one(API_KEY, "android").outputs["keyString"]}
    ]

    asked = {token: args for token, args in recording.invokes}
    assert asked["gcp:firebase/getAppleAppConfig:getAppleAppConfig"]["appId"] == (
        apple.outputs["appId"]
    )
    assert asked["gcp:firebase/getAndroidAppConfig:getAndroidAppConfig"]["project"] == PROJECT


def test_a_caller_provider_is_used_instead_of_a_new_one() -> None:
    def program() -> None:
        provider = pulumi.ProviderResource("gcp", "mine", {"project": PROJECT})
        FirebaseApps("firebase", _args(provider=provider))  # type: ignore[arg-type]

    recording = run_program("dev", program=program, use_stack_file=False)
    (provider,) = recording.of_type("pulumi:providers:gcp")
    assert provider.name == "mine"
    assert all(
        r.provider and r.provider.startswith(provider.urn)
        for r in recording
        if r.type.startswith("gcp:")
    )


def test_delete_policy_can_be_chosen() -> None:
    recording, _ = _run(_args(app_deletion_policy="DELETE"))
    assert recording.one(APPLE).inputs["deletionPolicy"] == "DELETE"
    assert recording.one(ANDROID).inputs["deletionPolicy"] == "DELETE"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"project_id": "Acme_Prod"}, "project_id must be an existing Google Cloud project id"),
        ({"project_id": "abc"}, "project_id"),
        ({"ios_bundle_id": "awaterra"}, "ios_bundle_id must be a reverse-DNS iOS bundle id"),
        ({"ios_bundle_id": "com.acme.app!"}, "ios_bundle_id"),
        ({"app_store_id": "id12345"}, "app_store_id must be the numeric Apple ID"),
        ({"team_id": "abcde12345"}, "team_id must be the 10-character"),
        ({"ios_bundle_id": None}, "app_store_id and team_id need ios_bundle_id"),
        ({"android_package_name": "1com.acme"}, "android_package_name must be an Android"),
        ({"android_package_name": "awaterra"}, "android_package_name"),
        ({"android_sha1": ["zz" * 20]}, "android_sha1 entries must be SHA-1"),
        ({"android_sha1": [SHA1[:-3]]}, "android_sha1 entries must be SHA-1"),
        ({"android_sha1": [SHA1, SHA1_HEX]}, "android_sha1 lists the same certificate twice"),
        ({"android_sha1": SHA1}, "android_sha1 must be a list"),
        ({"android_sha1": []}, "android_sha1 must list at least one signing certificate"),
        ({"android_sha256": [SHA1_HEX]}, "android_sha256 entries must be SHA-256"),
        ({"android_package_name": None}, "android_sha1/android_sha256 need android_package_name"),
        ({"display_name": ""}, "display_name must be 1-100 characters"),
        ({"app_deletion_policy": "KEEP"}, "app_deletion_policy must be one of"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(FirebaseConfigError, match=message):
        _args(**overrides)


def test_validators_name_the_field_they_are_given() -> None:
    with pytest.raises(FirebaseConfigError, match="iosBundleId"):
        validate_bundle_id("nodots", field="iosBundleId")
    with pytest.raises(FirebaseConfigError, match="androidPackageName"):
        validate_package_name("com.1acme", field="androidPackageName")
    assert validate_sha1(SHA1) == SHA1_HEX
    assert validate_bundle_id("com.acme-corp.App") == "com.acme-corp.App"
