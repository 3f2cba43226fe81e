"""The `firebase` block on every stack, AWS and Google Cloud: settings checked naming the key,
FirebaseApps built through a provider pinned to the block's project, the config files exported
as secrets under the same names everywhere (None without a block).
"""

from __future__ import annotations

import json
import plistlib
from typing import Any

import pytest

from components.settings import SettingsError, load_settings
from components.settings_firebase import FirebaseSettings
from ops.offline import Recording, run_program

KEYS = {"datadogApiKey": "dd-api-key", "datadogAppKey": "dd-app-key"}
PROJECT = "acme-mobile-prod"
BUNDLE = "com.acme.awaterra"
SHA1 = "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD"
SHA256 = "12" * 32
BLOCK: dict[str, Any] = {
    "projectId": PROJECT,
    "iosBundleId": BUNDLE,
    "appStoreId": "1234567890",
    "androidPackageName": BUNDLE,
    "androidSha1": [SHA1],
    "androidSha256": [SHA256],
}
PROVIDER = "pulumi:providers:gcp"
API_KEY = "gcp:projects/apiKey:ApiKey"
APPLE = "gcp:firebase/appleApp:AppleApp"
ANDROID = "gcp:firebase/androidApp:AndroidApp"
STACKS = ("dev", "prod", "gcp-dev", "gcp-prod")


def _run(stack: str, block: dict[str, Any] | None = None) -> Recording:
    overrides = dict(KEYS) if stack.endswith("prod") else {}
    if block is not None:
        overrides["firebase"] = json.dumps(block)
    return run_program(stack, overrides)


@pytest.fixture(scope="module")
def aws_prod() -> Recording:
    return _run("prod", BLOCK)


@pytest.fixture(scope="module")
def gcp_prod() -> Recording:
    return _run("gcp-prod", BLOCK)


@pytest.mark.parametrize("stack", ["dev", "gcp-dev"])
def test_without_a_block_nothing_of_firebase_exists(stack: str) -> None:
    recording = _run(stack)
    assert recording.outputs["ios_config"] is None
    assert recording.outputs["android_config"] is None
    assert not [r for r in recording if "firebase" in r.type or r.name.startswith("firebase")]


@pytest.mark.parametrize("stack", ["prod", "gcp-prod"])
def test_the_stack_files_configure_placeholders_that_the_plan_warns_about(stack: str) -> None:
    recording = _run(stack)
    warned = [w for w in recording.warnings if "awaterra:firebase." in w]
    assert any("awaterra:firebase.projectId is the stack file's placeholder" in w for w in warned)
    assert any("awaterra:firebase.androidSha1" in w for w in warned)
    assert recording.one(APPLE).inputs["bundleId"] == "com.example.awaterra"
    assert {"ios_config", "android_config"} <= recording.secret_outputs


@pytest.mark.parametrize("stack", ["prod", "gcp-prod"])
def test_a_real_run_refuses_the_firebase_placeholders(stack: str) -> None:
    problems: list[str] = []

    def program() -> None:
        try:
            load_settings(offline=False)
        except SettingsError as error:
            problems.extend(error.problems)

    run_program(stack, KEYS, program=program)
    assert any(p.startswith("awaterra:firebase.projectId is the stack file's") for p in problems)
    assert any(p.startswith("awaterra:firebase.iosBundleId is the stack file's") for p in problems)


@pytest.mark.parametrize("fixture", ["aws_prod", "gcp_prod"])
def test_config_files_are_secret_outputs_of_the_configured_apps(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    recording: Recording = request.getfixturevalue(fixture)
    assert {"ios_config", "android_config"} <= recording.secret_outputs
    plist = plistlib.loads(recording.outputs["ios_config"].encode())
    assert plist["BUNDLE_ID"] == BUNDLE and plist["PROJECT_ID"] == PROJECT
    assert plist["GOOGLE_APP_ID"] == recording.one(APPLE).outputs["appId"]
    services = json.loads(recording.outputs["android_config"])
    (client,) = services["client"]
    assert client["client_info"]["android_client_info"]["package_name"] == BUNDLE
    assert services["project_info"]["project_id"] == PROJECT
    android_key = recording.one(API_KEY, "android")
    assert client["api_key"][0]["current_key"] == android_key.outputs["keyString"]


@pytest.mark.parametrize("fixture", ["aws_prod", "gcp_prod"])
def test_the_firebase_provider_targets_the_configured_project(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    recording: Recording = request.getfixturevalue(fixture)
    provider = recording.one(PROVIDER, "firebase")
    assert provider.inputs["project"] == PROJECT
    assert provider.inputs["billingProject"] == PROJECT
    # No key or credentials file in the provider's configuration: ADC or Workload Identity.
    assert not {"credentials", "accessToken"} & set(provider.inputs)
    firebase = [r for r in recording if r.type.startswith("gcp:") and r.name.startswith("firebase")]
    assert len(firebase) == 12
    for resource in firebase:
        assert resource.provider and resource.provider.startswith(provider.urn), resource.name
    assert {r.inputs["project"] for r in firebase if "project" in r.inputs} == {PROJECT}


def test_on_aws_the_only_google_resources_are_firebases(aws_prod: Recording) -> None:
    google = {r.name for r in aws_prod if r.type.startswith("gcp:")}
    assert google and all(name.startswith("firebase-") for name in google)
    (provider,) = aws_prod.of_type(PROVIDER)
    assert provider.name == "firebase-gcp"


@pytest.mark.parametrize("fixture", ["aws_prod", "gcp_prod"])
def test_the_apps_keys_are_restricted_to_their_app(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    recording: Recording = request.getfixturevalue(fixture)
    ios_key, android_key = recording.one(API_KEY, "ios"), recording.one(API_KEY, "android")
    ios = ios_key.inputs["restrictions"]["iosKeyRestrictions"]
    assert ios["allowedBundleIds"] == [BUNDLE]
    (allowed,) = android_key.inputs["restrictions"]["androidKeyRestrictions"]["allowedApplications"]
    assert allowed == {"packageName": BUNDLE, "sha1Fingerprint": SHA1.replace(":", "")}
    for key in (ios_key, android_key):
        targets = {t["service"] for t in key.inputs["restrictions"]["apiTargets"]}
        assert "firebasecrashlytics.googleapis.com" in targets
        assert not any(t.startswith(("generativelanguage", "maps")) for t in targets)
    assert recording.one(APPLE).inputs["apiKeyId"] == ios_key.outputs["uid"]
    android = recording.one(ANDROID)
    assert android.inputs["apiKeyId"] == android_key.outputs["uid"]
    assert android.inputs["sha1Hashes"] == [SHA1.replace(":", "").lower()]
    assert android.inputs["sha256Hashes"] == [SHA256]


def test_one_platform_only_exports_none_for_the_other() -> None:
    recording = _run("dev", {"projectId": PROJECT, "iosBundleId": BUNDLE})
    assert recording.outputs["android_config"] is None
    assert recording.outputs["ios_config"].startswith("<?xml")
    assert recording.of_type(ANDROID) == [] and len(recording.of_type(API_KEY)) == 1


def _problems(block: Any, stack: str = "dev") -> list[str]:
    captured: list[str] = []

    def program() -> None:
        try:
            load_settings()
        except SettingsError as error:
            captured.extend(error.problems)

    raw = block if isinstance(block, str) else json.dumps(block)
    run_program(stack, {"firebase": raw}, program=program)
    return captured


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ("not-a-mapping", "awaterra:firebase must be a mapping"),
        ({"iosBundleId": BUNDLE}, "awaterra:firebase.projectId is required"),
        ({**BLOCK, "projectId": "Acme"}, "awaterra:firebase.projectId must be an existing"),
        ({**BLOCK, "iosBundleId": "acme"}, "awaterra:firebase.iosBundleId must be a reverse-DNS"),
        ({**BLOCK, "appStoreId": "id12"}, "awaterra:firebase.appStoreId must be the numeric"),
        ({**BLOCK, "teamId": "abc"}, "awaterra:firebase.teamId must be the 10-character"),
        ({**BLOCK, "androidPackageName": "1x.y"}, "awaterra:firebase.androidPackageName must"),
        ({**BLOCK, "androidSha1": ["zz"]}, "awaterra:firebase.androidSha1 entries must be SHA-1"),
        ({**BLOCK, "androidSha256": [SHA1]}, "awaterra:firebase.androidSha256 entries must be"),
        ({**BLOCK, "androidSha1": [SHA1, SHA1]}, "awaterra:firebase.androidSha1 lists the same"),
        ({**BLOCK, "androidSha1": []}, "awaterra:firebase.androidSha1 must list at least one"),
        ({**BLOCK, "androidSha1": "x" * 3}, "awaterra:firebase.androidSha1 entries must be"),
        ({**BLOCK, "androidSha1": 7}, "awaterra:firebase.androidSha1 must be a list"),
        ({"projectId": PROJECT, "teamId": "ABCDE12345", "androidPackageName": BUNDLE,
          "androidSha1": [SHA1]}, "awaterra:firebase.teamId needs awaterra:firebase.iosBundleId"),
        ({"projectId": PROJECT, "iosBundleId": BUNDLE, "androidSha1": [SHA1]},
         "awaterra:firebase.androidSha1 needs awaterra:firebase.androidPackageName"),
        ({"projectId": PROJECT}, "awaterra:firebase configures no app"),
        ({**BLOCK, "iosBundleID": BUNDLE}, "awaterra:firebase.iosBundleID is not a Firebase "
         "setting; did you mean iosBundleId?"),
        ({**BLOCK, "displayName": ""}, "awaterra:firebase.displayName must be a non-empty"),
    ],
)  # fmt: skip
def test_bad_firebase_settings_fail_naming_the_key(block: Any, expected: str) -> None:
    problems = _problems(block)
    assert any(p.startswith(expected) for p in problems), problems
    assert all(p.startswith("awaterra:firebase") for p in problems), problems


def test_every_problem_of_the_block_is_reported_at_once() -> None:
    problems = _problems({**BLOCK, "projectId": "X", "teamId": "x", "androidSha256": ["1"]})
    assert len(problems) == 3, problems


def test_the_block_is_read_on_both_clouds_into_the_components_arguments() -> None:
    captured: list[FirebaseSettings | None] = []
    for stack in STACKS:
        overrides = {**(KEYS if stack.endswith("prod") else {}), "firebase": json.dumps(BLOCK)}
        run_program(stack, overrides, program=lambda: captured.append(load_settings().firebase))
    assert len({settings for settings in captured}) == 1
    args = captured[0].args() if captured[0] else None
    assert args is not None and args.project_id == PROJECT
    assert args.android_sha1 == (SHA1.replace(":", "").lower(),)
    assert args.app_store_id == "1234567890" and args.app_deletion_policy == "ABANDON"


def test_an_empty_block_means_no_firebase() -> None:
    captured: list[FirebaseSettings | None] = []
    run_program(
        "dev", {"firebase": "{}"}, program=lambda: captured.append(load_settings().firebase)
    )
    assert captured == [None]
