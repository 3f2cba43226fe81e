"""CrossGuard entry point: `pulumi preview --policy-pack policy` runs this file.

The CLI starts it with the pack directory as the script directory; the repository root goes on
the path so the rules import as the `policy` package, exactly as the offline plan imports them.
"""

import sys
from pathlib import Path

PACK_DIR = Path(__file__).resolve().parent
# The pack's own directory must not shadow anything (model, values, ...): import it as a package.
sys.path = [entry for entry in sys.path if Path(entry or ".").resolve() != PACK_DIR]
sys.path.insert(0, str(PACK_DIR.parent))

from pulumi_policy import PolicyPack  # noqa: E402

from policy.crossguard import PACK_NAME, build_policies  # noqa: E402

PolicyPack(name=PACK_NAME, policies=build_policies())
