"""The Firebase side of every stack's composition: FirebaseApps from the `firebase` block.

Both clouds call `firebase_outputs(settings)` and export what it returns (`ios_config`,
`android_config`: the GoogleService-Info.plist and google-services.json texts, secret; None
when the stack has no `firebase` block or the block configures no app for that platform).
components/firebase.py (and pulumi_gcp) is imported only for a stack with a block.

The component brings its own `gcp.Provider` pinned to the block's `projectId` (which may be
another project than a gcp stack's own, and is the only Google project an AWS stack touches);
it signs in with Application Default Credentials (docs/firebase.md, Credentials).
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.settings import StackSettings

FIREBASE_OUTPUTS = ("ios_config", "android_config")


def firebase_outputs(
    settings: StackSettings, opts: pulumi.ResourceOptions | None = None
) -> dict[str, Any]:
    """Build the Firebase apps when the stack configures them; the outputs either way."""
    if settings.firebase is None:
        return dict.fromkeys(FIREBASE_OUTPUTS)
    from components.firebase import FirebaseApps

    apps = FirebaseApps("firebase", settings.firebase.args(), opts)
    return {"ios_config": apps.ios_config, "android_config": apps.android_config}
