"""awaterra: the mobile app backend, on AWS or Google Cloud, wired from validated stack settings.

`awaterra:cloud` chooses the composition: components/aws/stack.py (aws, the default) or
components/gcp/stack.py (gcp). Both export the same output names (components/stack_outputs.py).
"""

from __future__ import annotations

import pulumi

from components.settings import load_settings

settings = load_settings()

if settings.cloud == "gcp":
    from components.gcp.stack import build_gcp_stack

    for name, value in build_gcp_stack(settings).items():
        pulumi.export(name, value)
else:
    from components.aws.stack import build_aws_stack

    build_aws_stack(settings)
