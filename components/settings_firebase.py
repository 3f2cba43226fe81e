"""The optional `awaterra:firebase` block of any stack (AWS or Google Cloud), read by
components/settings.

    awaterra:firebase:
      projectId: acme-mobile-prod          # an existing Google Cloud project (required)
      iosBundleId: com.acme.awaterra       # with it, an Apple app (appStoreId, teamId optional)
      androidPackageName: com.acme.awaterra
      androidSha1: ["DA:39:..."]           # at least one with androidPackageName
      androidSha256: ["E3:B0:..."]

Each field is checked with components/firebase.py's validators, and every problem names its
key (`awaterra:firebase.iosBundleId must be ...`). An unset or empty block means no Firebase.
components/firebase.py (and with it pulumi_gcp) is imported only when a block is set.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from components.firebase import FirebaseAppsArgs
    from components.settings import _Reader

KEY = "firebase"
FIELDS = (
    "projectId",
    "displayName",
    "iosBundleId",
    "appStoreId",
    "teamId",
    "androidPackageName",
    "androidSha1",
    "androidSha256",
)
_LISTS = ("androidSha1", "androidSha256")
# The stand-ins the stack files ship with: an `example` project or app id, and the hashes of
# nothing (SHA-1 / SHA-256 of the empty string), which no signing certificate has.
_PLACEHOLDER_PROJECT = re.compile(r"(^|-)example(-|$)")
_PLACEHOLDER_APP_ID = re.compile(r"(^|\.)example(\.|$)")
_PLACEHOLDER_HASHES = frozenset(
    {hashlib.sha1(b"").hexdigest(), hashlib.sha256(b"").hexdigest()}  # noqa: S324 (not security)
)


@dataclass(frozen=True)
class FirebaseSettings:
    project_id: str
    display_name: str = "awaterra"
    ios_bundle_id: str | None = None
    app_store_id: str | None = None
    team_id: str | None = None
    android_package_name: str | None = None
    android_sha1: tuple[str, ...] = ()
    android_sha256: tuple[str, ...] = ()

    def args(self) -> FirebaseAppsArgs:
        """The component's arguments (imports components/firebase.py, and so pulumi_gcp)."""
        from components.firebase import FirebaseAppsArgs

        return FirebaseAppsArgs(
            project_id=self.project_id,
            display_name=self.display_name,
            ios_bundle_id=self.ios_bundle_id,
            app_store_id=self.app_store_id,
            team_id=self.team_id,
            android_package_name=self.android_package_name,
            android_sha1=self.android_sha1,
            android_sha256=self.android_sha256,
        )

    def placeholders(self) -> list[str]:
        """One line per field that still holds the stack file's stand-in."""
        found = []
        if _PLACEHOLDER_PROJECT.search(self.project_id):
            found.append(("projectId", self.project_id, "your-firebase-project"))
        for name, value in (
            ("iosBundleId", self.ios_bundle_id),
            ("androidPackageName", self.android_package_name),
        ):
            if value and _PLACEHOLDER_APP_ID.search(value):
                found.append((name, value, "com.yourcompany.app"))
        for name, hashes in (
            ("androidSha1", self.android_sha1),
            ("androidSha256", self.android_sha256),
        ):
            found.extend(
                (name, value, "your signing certificate's fingerprint")
                for value in hashes
                if value in _PLACEHOLDER_HASHES
            )
        return [
            f"awaterra:{KEY}.{name} is the stack file's placeholder {value!r}, not a real "
            f"Firebase value: set yours ({example})"
            for name, value, example in found
        ]


def _problem(error: ValueError) -> str:
    return str(error).removeprefix("Firebase: ")


def _text(read: _Reader, block: dict[str, Any], name: str) -> str | None:
    value = block.get(name)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and name == "appStoreId":
        value = str(value)  # YAML reads an unquoted App Store id as a number
    if not isinstance(value, str) or not value.strip():
        read.problems.append(f"awaterra:{KEY}.{name} must be a non-empty string, got {value!r}")
        return None
    return value.strip()


def read_firebase(read: _Reader) -> FirebaseSettings | None:
    """The `firebase` block, or None when it is unset or empty; problems go to `read`."""
    raw = read.raw(KEY)
    if raw is None:
        return None
    try:
        block = json.loads(raw)
    except json.JSONDecodeError:
        block = raw
    if not isinstance(block, dict):
        read.fail(
            KEY,
            "must be a mapping (projectId, iosBundleId, androidPackageName, androidSha1, ...), "
            f"got {raw!r}",
        )
        return None
    if not block:
        return None
    before = len(read.problems)
    for name in sorted(set(block) - set(FIELDS)):
        near = difflib.get_close_matches(name, FIELDS, n=1, cutoff=0.6)
        hint = f"; did you mean {near[0]}?" if near else f" (known: {', '.join(FIELDS)})"
        read.problems.append(f"awaterra:{KEY}.{name} is not a Firebase setting{hint}")

    from components import firebase as fb

    def key(name: str) -> str:
        return f"awaterra:{KEY}.{name}"

    def checked(name: str, validate: Any) -> str | None:
        value = _text(read, block, name)
        if value is None:
            return None
        try:
            return str(validate(value, key(name)))
        except fb.FirebaseConfigError as error:
            read.problems.append(_problem(error))
            return None

    project_id = checked("projectId", fb.validate_project_id)
    if "projectId" not in block:
        read.problems.append(
            f"{key('projectId')} is required in a firebase block (an existing Google Cloud "
            "project id, e.g. acme-mobile-prod)"
        )
    display_name = _text(read, block, "displayName") or "awaterra"
    if len(display_name) > 100:
        read.problems.append(f"{key('displayName')} must be at most 100 characters")
    ios = checked("iosBundleId", fb.validate_bundle_id)
    app_store_id = checked("appStoreId", fb.validate_app_store_id)
    team_id = checked("teamId", fb.validate_team_id)
    package = checked("androidPackageName", fb.validate_package_name)
    hashes: dict[str, tuple[str, ...]] = {}
    for name, validate in (
        ("androidSha1", fb.validate_sha1),
        ("androidSha256", fb.validate_sha256),
    ):
        values = block.get(name, [])
        if isinstance(values, str):
            values = [item for item in values.split(",") if item.strip()]
        if not isinstance(values, list):
            read.problems.append(f"{key(name)} must be a list of fingerprints, got {values!r}")
            continue
        try:
            hashes[name] = fb.validate_hashes(values, key(name), validate)
        except fb.FirebaseConfigError as error:
            read.problems.append(_problem(error))

    if "iosBundleId" not in block:
        for name in ("appStoreId", "teamId"):
            if name in block:
                read.problems.append(f"{key(name)} needs {key('iosBundleId')} (its Apple app)")
    if "androidPackageName" in block and not block.get("androidSha1"):
        read.problems.append(
            f"{key('androidSha1')} must list at least one signing certificate with "
            f"{key('androidPackageName')} (the Android API key is restricted to package "
            "name + SHA-1; list the Play App Signing and upload certificates)"
        )
    elif "androidPackageName" not in block:
        for name in _LISTS:
            if block.get(name):
                read.problems.append(
                    f"{key(name)} needs {key('androidPackageName')} (its Android app)"
                )
    if "iosBundleId" not in block and "androidPackageName" not in block:
        read.problems.append(
            f"awaterra:{KEY} configures no app: set iosBundleId and/or androidPackageName"
        )
    if len(read.problems) > before or project_id is None:
        return None
    return FirebaseSettings(
        project_id=project_id,
        display_name=display_name,
        ios_bundle_id=ios,
        app_store_id=app_store_id,
        team_id=team_id,
        android_package_name=package,
        android_sha1=hashes.get("androidSha1", ()),
        android_sha256=hashes.get("androidSha256", ()),
    )
