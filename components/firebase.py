"""Firebase for the mobile apps (Crashlytics, Performance Monitoring), in any stack, AWS ones too.

`FirebaseApps(name, FirebaseAppsArgs(project_id="acme-mobile", ios_bundle_id="com.acme.app"))`

The Google Cloud project must already exist (this component never creates or deletes one). It
gets its own `gcp.Provider` pinned to that project, so the component works in a stack without
any `gcp:` config; pass `provider=` to use one of your own instead.

Args (`FirebaseAppsArgs`):
- `project_id: str` the existing project (6..30 chars, lower-case letters, digits, hyphens).
- `display_name: str = "awaterra"` the apps' name in the Firebase console.
- `ios_bundle_id: str | None`, `app_store_id: str | None` (digits), `team_id: str | None`
  (10 upper-case letters/digits): with a bundle id, an Apple app is registered.
- `android_package_name: str | None`, `android_sha1: list[str]`, `android_sha256: list[str]`:
  with a package name, an Android app is registered; at least one SHA-1 is required, because
  the app's API key is restricted to package name + SHA-1 (an unrestricted key is never made).
- `app_deletion_policy: "ABANDON" | "DELETE" = "ABANDON"`: a destroy leaves the apps in
  Firebase (shipped binaries keep reporting), unless DELETE is asked for.

Resources: the Firebase management, API Keys and client APIs enabled (never disabled on
destroy: other tenants of the project may use them), Firebase on the project, one API key per
platform restricted to that app (bundle id / package + SHA-1) and to `CLIENT_APIS`, the apps
bound to those keys.

Outputs: `ios_config` (GoogleService-Info.plist text), `android_config` (google-services.json
text), both secret (`None` for a platform that is not configured), `ios_app_id`,
`android_app_id`.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_gcp as gcp

# Firebase management (the project, the apps) and API Keys (the restricted keys).
MANAGEMENT_APIS: tuple[str, ...] = ("firebase.googleapis.com", "apikeys.googleapis.com")
# What the Crashlytics and Performance Monitoring SDKs call with the app's API key: Installations
# (both SDKs identify the install), Crashlytics settings/reports, Remote Config (Performance
# Monitoring reads its sampling config from it) and the Firebase logging transport.
CLIENT_APIS: tuple[str, ...] = (
    "firebaseinstallations.googleapis.com",
    "firebasecrashlytics.googleapis.com",
    "firebaseremoteconfig.googleapis.com",
    "firebaseremoteconfigrealtime.googleapis.com",
    "firebaselogging.googleapis.com",
)
DELETION_POLICIES: tuple[str, ...] = ("ABANDON", "DELETE")

_PROJECT_ID = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
_BUNDLE_ID = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_APP_STORE_ID = re.compile(r"[0-9]{6,12}")
_TEAM_ID = re.compile(r"[A-Z0-9]{10}")
_PACKAGE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+")
_KEY_NAME = re.compile(r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?")


class FirebaseConfigError(ValueError):
    """A Firebase setting is malformed; the message names the field."""


def validate_project_id(value: str, field: str = "project_id") -> str:
    if not isinstance(value, str) or not _PROJECT_ID.fullmatch(value):
        raise FirebaseConfigError(
            f"Firebase: {field} must be an existing Google Cloud project id (6-30 characters: "
            f"lower-case letters, digits and hyphens, starting with a letter), got {value!r}"
        )
    return value


def validate_bundle_id(value: str, field: str = "ios_bundle_id") -> str:
    if not isinstance(value, str) or len(value) > 155 or not _BUNDLE_ID.fullmatch(value):
        raise FirebaseConfigError(
            f"Firebase: {field} must be a reverse-DNS iOS bundle id such as com.example.app "
            f"(letters, digits, hyphens, at least two dot-separated parts), got {value!r}"
        )
    return value


def validate_app_store_id(value: str, field: str = "app_store_id") -> str:
    if not isinstance(value, str) or not _APP_STORE_ID.fullmatch(value):
        raise FirebaseConfigError(
            f"Firebase: {field} must be the numeric Apple ID of the app (App Store Connect > "
            f"App Information, e.g. 1234567890), got {value!r}"
        )
    return value


def validate_team_id(value: str, field: str = "team_id") -> str:
    if not isinstance(value, str) or not _TEAM_ID.fullmatch(value):
        raise FirebaseConfigError(
            f"Firebase: {field} must be the 10-character Apple Developer Team ID "
            f"(upper-case letters and digits), got {value!r}"
        )
    return value


def validate_package_name(value: str, field: str = "android_package_name") -> str:
    if not isinstance(value, str) or len(value) > 150 or not _PACKAGE_NAME.fullmatch(value):
        raise FirebaseConfigError(
            f"Firebase: {field} must be an Android application id such as com.example.app "
            f"(dot-separated parts, each starting with a letter), got {value!r}"
        )
    return value


def _validate_hash(value: str, field: str, name: str, hex_length: int) -> str:
    """The lower-case hex of a certificate fingerprint; colons (keytool's format) are accepted."""
    bare = value.replace(":", "") if isinstance(value, str) else ""
    if len(bare) != hex_length or not re.fullmatch(r"[0-9A-Fa-f]+", bare):
        raise FirebaseConfigError(
            f"Firebase: {field} entries must be {name} certificate fingerprints "
            f"({hex_length} hex digits, colons allowed, as `keytool -list -v` prints them), "
            f"got {value!r}"
        )
    return bare.lower()


def validate_sha1(value: str, field: str = "android_sha1") -> str:
    return _validate_hash(value, field, "SHA-1", 40)


def validate_sha256(value: str, field: str = "android_sha256") -> str:
    return _validate_hash(value, field, "SHA-256", 64)


def validate_hashes(
    values: Sequence[str], field: str, one: Callable[[str, str], str]
) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise FirebaseConfigError(f"Firebase: {field} must be a list, got {values!r}")
    normalized = tuple(one(value, field) for value in values)
    if len(set(normalized)) != len(normalized):
        raise FirebaseConfigError(f"Firebase: {field} lists the same certificate twice")
    return normalized


@dataclass(frozen=True)
class FirebaseAppsArgs:
    project_id: str
    display_name: str = "awaterra"
    ios_bundle_id: str | None = None
    app_store_id: str | None = None
    team_id: str | None = None
    android_package_name: str | None = None
    android_sha1: Sequence[str] = field(default_factory=tuple)
    android_sha256: Sequence[str] = field(default_factory=tuple)
    app_deletion_policy: Literal["ABANDON", "DELETE"] = "ABANDON"
    provider: gcp.Provider | None = None

    def __post_init__(self) -> None:
        validate_project_id(self.project_id)
        if not isinstance(self.display_name, str) or not 1 <= len(self.display_name) <= 100:
            raise FirebaseConfigError(
                f"Firebase: display_name must be 1-100 characters, got {self.display_name!r}"
            )
        if self.app_deletion_policy not in DELETION_POLICIES:
            raise FirebaseConfigError(
                f"Firebase: app_deletion_policy must be one of {DELETION_POLICIES}, "
                f"got {self.app_deletion_policy!r}"
            )
        if self.ios_bundle_id is not None:
            validate_bundle_id(self.ios_bundle_id)
        elif self.app_store_id is not None or self.team_id is not None:
            raise FirebaseConfigError(
                "Firebase: app_store_id and team_id need ios_bundle_id "
                "(the Apple app they belong to)"
            )
        if self.app_store_id is not None:
            validate_app_store_id(self.app_store_id)
        if self.team_id is not None:
            validate_team_id(self.team_id)
        sha1 = validate_hashes(self.android_sha1, "android_sha1", validate_sha1)
        sha256 = validate_hashes(self.android_sha256, "android_sha256", validate_sha256)
        object.__setattr__(self, "android_sha1", sha1)
        object.__setattr__(self, "android_sha256", sha256)
        if self.android_package_name is not None:
            validate_package_name(self.android_package_name)
            if not sha1:
                raise FirebaseConfigError(
                    "Firebase: android_sha1 must list at least one signing certificate when "
                    "android_package_name is set (the Android API key is restricted to package "
                    "name + SHA-1; use the Play App Signing and upload certificates)"
                )
        elif sha1 or sha256:
            raise FirebaseConfigError(
                "Firebase: android_sha1/android_sha256 need android_package_name "
                "(the Android app they belong to)"
            )


def _key_name(component: str, platform: str) -> str:
    """An API key id from the component name (the API allows `[a-z]([a-z0-9-]{0,61}[a-z0-9])?`)."""
    base = re.sub(r"[^a-z0-9-]+", "-", component.lower()).strip("-")
    candidate = f"{base}-{platform}"[-63:].lstrip("-0123456789") or platform
    if not _KEY_NAME.fullmatch(candidate):
        raise FirebaseConfigError(
            f"Firebase: cannot derive an API key id from component name {component!r}"
        )
    return candidate


def _decode(contents: str) -> str:
    return base64.b64decode(contents).decode("utf-8")


class FirebaseApps(pulumi.ComponentResource):
    """Firebase on an existing project: APIs, restricted API keys, Apple/Android apps, configs."""

    ios_config: pulumi.Output[str] | None
    android_config: pulumi.Output[str] | None
    ios_app_id: pulumi.Output[str] | None
    android_app_id: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: FirebaseAppsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("awaterra:firebase:FirebaseApps", name, None, opts)
        provider = args.provider or gcp.Provider(
            f"{name}-gcp",
            project=args.project_id,
            # Let the provider bill/quota API calls to the project it manages, not to the
            # caller's credentials' project (the API Keys and Firebase APIs require it).
            user_project_override=True,
            billing_project=args.project_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        project = args.project_id

        services = {
            api: gcp.projects.Service(
                f"{name}-{api.split('.')[0]}",
                project=project,
                service=api,
                disable_on_destroy=False,
                disable_dependent_services=False,
                opts=child,
            )
            for api in (*MANAGEMENT_APIS, *CLIENT_APIS)
        }
        firebase = gcp.firebase.Project(
            f"{name}-project",
            project=project,
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=list(services.values()))
            ),
        )
        after_firebase = pulumi.ResourceOptions.merge(
            child, pulumi.ResourceOptions(depends_on=[firebase, *services.values()])
        )
        api_targets = [gcp.projects.ApiKeyRestrictionsApiTargetArgs(service=api)
                       for api in CLIENT_APIS]
        invoke = pulumi.InvokeOutputOptions(parent=self, provider=provider)

        self.ios_config = self.ios_app_id = None
        if args.ios_bundle_id is not None:
            ios_key = gcp.projects.ApiKey(
                f"{name}-ios-key",
                name=_key_name(name, "ios"),
                project=project,
                display_name=f"{args.display_name} iOS (Firebase)",
                restrictions=gcp.projects.ApiKeyRestrictionsArgs(
                    ios_key_restrictions=gcp.projects.ApiKeyRestrictionsIosKeyRestrictionsArgs(
                        allowed_bundle_ids=[args.ios_bundle_id]
                    ),
                    api_targets=api_targets,
                ),
                opts=after_firebase,
            )
            apple = gcp.firebase.AppleApp(
                f"{name}-ios",
                project=project,
                display_name=args.display_name,
                bundle_id=args.ios_bundle_id,
                app_store_id=args.app_store_id,
                team_id=args.team_id,
                api_key_id=ios_key.uid,
                deletion_policy=args.app_deletion_policy,
                opts=after_firebase,
            )
            apple_config = gcp.firebase.get_apple_app_config_output(
                app_id=apple.app_id, project=project, opts=invoke
            )
            self.ios_app_id = apple.app_id
            self.ios_config = pulumi.Output.secret(
                apple_config.config_file_contents.apply(_decode)
            )

        self.android_config = self.android_app_id = None
        if args.android_package_name is not None:
            package = args.android_package_name
            android_key = gcp.projects.ApiKey(
                f"{name}-android-key",
                name=_key_name(name, "android"),
                project=project,
                display_name=f"{args.display_name} Android (Firebase)",
                restrictions=gcp.projects.ApiKeyRestrictionsArgs(
                    android_key_restrictions=gcp.projects.ApiKeyRestrictionsAndroidKeyRestrictionsArgs(
                        allowed_applications=[
                            gcp.projects.ApiKeyRestrictionsAndroidKeyRestrictionsAllowedApplicationArgs(
                                package_name=package,
                                # The API stores fingerprints as upper-case hex without colons.
                                sha1_fingerprint=sha1.upper(),
                            )
                            for sha1 in args.android_sha1
                        ]
                    ),
                    api_targets=api_targets,
                ),
                opts=after_firebase,
            )
            android = gcp.firebase.AndroidApp(
                f"{name}-android",
                project=project,
                display_name=args.display_name,
                package_name=package,
                sha1_hashes=list(args.android_sha1),
                sha256_hashes=list(args.android_sha256),
                api_key_id=android_key.uid,
                deletion_policy=args.app_deletion_policy,
                opts=after_firebase,
            )
            android_config = gcp.firebase.get_android_app_config_output(
                app_id=android.app_id, project=project, opts=invoke
            )
            self.android_app_id = android.app_id
            self.android_config = pulumi.Output.secret(
                android_config.config_file_contents.apply(_decode)
            )

        self.register_outputs(
            {
                "ios_config": self.ios_config,
                "android_config": self.android_config,
                "ios_app_id": self.ios_app_id,
                "android_app_id": self.android_app_id,
            }
        )
