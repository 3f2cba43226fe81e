"""Offline answers for the Firebase component: what Google returns for keys, apps and configs.

`COMPUTED_FIREBASE` has the same shape as `ops.offline.COMPUTED` (type token -> (name, inputs,
region) -> computed state). `invokes_firebase(project)` answers the config-file invokes with
the files Firebase serves: a GoogleService-Info.plist and a google-services.json built from the
registered app and its API key, base64-encoded as the provider returns them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import plistlib
import uuid
from collections.abc import Callable
from typing import Any

OFFLINE_GCP_PROJECT = "awaterra-offline"
PROJECT_NUMBER = "482915736041"

# Filled as the mocks register keys and apps, read back when the config invokes ask for them
# (ids are derived from names, so a re-run registers the same ids).
_KEYS: dict[str, str] = {}  # key uid -> key string
_APPS: dict[str, dict[str, Any]] = {}  # app id -> the app's inputs


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def _api_key(name: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    uid = str(uuid.UUID(_digest("apikey", name)[:32], version=4))
    # Real key strings are "AIza" + 35 URL-safe characters.
    tail = base64.urlsafe_b64encode(bytes.fromhex(_digest("key", name)))[:35].decode()
    key_string = f"AIza{tail}"
    _KEYS[uid] = key_string
    return {"uid": uid, "keyString": key_string}


def _app(platform: str) -> Callable[[str, dict[str, Any], str], dict[str, Any]]:
    collection = "iosApps" if platform == "ios" else "androidApps"

    def computed(name: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
        app_id = f"1:{PROJECT_NUMBER}:{platform}:{_digest(platform, name)[:22]}"
        project = inputs.get("project") or OFFLINE_GCP_PROJECT
        _APPS[app_id] = {**inputs, "platform": platform}
        return {
            "appId": app_id,
            "name": f"projects/{project}/{collection}/{app_id}",
            "etag": _digest("etag", name)[:16],
        }

    return computed


COMPUTED_FIREBASE: dict[str, Callable[[str, dict[str, Any], str], dict[str, Any]]] = {
    "gcp:projects/apiKey:ApiKey": _api_key,
    "gcp:firebase/appleApp:AppleApp": _app("ios"),
    "gcp:firebase/androidApp:AndroidApp": _app("android"),
    "gcp:firebase/project:Project": lambda n, i, r: {
        "projectNumber": PROJECT_NUMBER,
        "displayName": i.get("project") or OFFLINE_GCP_PROJECT,
    },
}


def apple_plist(project: str, app_id: str, bundle_id: str, api_key: str) -> bytes:
    """GoogleService-Info.plist as Firebase serves it for an Apple app."""
    return plistlib.dumps(
        {
            "API_KEY": api_key,
            "GCM_SENDER_ID": PROJECT_NUMBER,
            "PLIST_VERSION": "1",
            "BUNDLE_ID": bundle_id,
            "PROJECT_ID": project,
            "STORAGE_BUCKET": f"{project}.firebasestorage.app",
            "IS_ADS_ENABLED": False,
            "IS_ANALYTICS_ENABLED": False,
            "IS_APPINVITE_ENABLED": True,
            "IS_GCM_ENABLED": True,
            "IS_SIGNIN_ENABLED": True,
            "GOOGLE_APP_ID": app_id,
        }
    )


def android_json(project: str, app_id: str, package: str, api_key: str) -> bytes:
    """google-services.json as Firebase serves it for an Android app."""
    document = {
        "project_info": {
            "project_number": PROJECT_NUMBER,
            "project_id": project,
            "storage_bucket": f"{project}.firebasestorage.app",
        },
        "client": [
            {
                "client_info": {
                    "mobilesdk_app_id": app_id,
                    "android_client_info": {"package_name": package},
                },
                "oauth_client": [],
                "api_key": [{"current_key": api_key}],
                "services": {"appinvite_service": {"other_platform_oauth_client": []}},
            }
        ],
        "configuration_version": "1",
    }
    return json.dumps(document, indent=2).encode()


def invokes_firebase(
    project: str = OFFLINE_GCP_PROJECT,
) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
    """Answers for `gcp.firebase.get_apple_app_config` / `get_android_app_config`."""

    def answer(platform: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
        def config(args: dict[str, Any]) -> dict[str, Any]:
            app_id = args.get("appId") or ""
            app = _APPS.get(app_id)
            if app is None or app["platform"] != platform:
                raise LookupError(f"no offline Firebase {platform} app {app_id!r} was registered")
            target = args.get("project") or app.get("project") or project
            key = _KEYS.get(app.get("apiKeyId") or "", "")
            if platform == "ios":
                contents = apple_plist(target, app_id, app["bundleId"], key)
                filename = "GoogleService-Info.plist"
            else:
                contents = android_json(target, app_id, app["packageName"], key)
                filename = "google-services.json"
            return {
                "appId": app_id,
                "project": target,
                "configFileContents": base64.b64encode(contents).decode(),
                "configFilename": filename,
                "id": f"projects/{target}/{'iosApps' if platform == 'ios' else 'androidApps'}/"
                f"{app_id}/config",
            }

        return config

    return {
        "gcp:firebase/getAppleAppConfig:getAppleAppConfig": answer("ios"),
        "gcp:firebase/getAndroidAppConfig:getAndroidAppConfig": answer("android"),
    }
