"""CrossGuard entry point: `pulumi preview --policy-pack policy` runs this file.

The CLI starts it with the pack directory as the script directory; the repository root goes on
the path so the rules import as the `policy` package, exactly as the offline plan imports them.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import PolicyPack

from policy.crossguard import PACK_NAME, build_policies

PolicyPack(name=PACK_NAME, policies=build_policies())
