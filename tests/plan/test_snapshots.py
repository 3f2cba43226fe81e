"""The program's plan may only change together with its reviewed snapshot (CDK-style).

When this fails, read the diff: if the change is intended, run `make plan-update` and commit the
refreshed `tests/plan/snapshots/<stack>.json` with the change, so the reviewer sees both.
"""

from __future__ import annotations

import pytest

from ops.plan import snapshot_diff, snapshot_path


@pytest.mark.parametrize("stack", ["dev", "prod", "gcp-dev", "gcp-prod"])
def test_reviewed_snapshot_matches_the_program(stack: str) -> None:
    assert snapshot_path(stack).exists(), f"no reviewed snapshot for {stack}: run make plan-update"
    diff = snapshot_diff(stack)
    assert diff == "", f"the {stack} plan drifted from its snapshot (make plan-update):\n{diff}"
