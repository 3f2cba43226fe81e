"""Offline answers for Datadog's Google Cloud integration (ops/offline.py merges them).

`IntegrationSts` returns the org's Datadog principal (`delegateAccountEmail`), which the program
grants token creation on the integration's service account; the value has the shape Datadog's
API returns, so a component that formats the IAM member wrongly fails under test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

DELEGATE_ACCOUNT_EMAIL = (
    "ddgci-0123456789abcdef0123@datadog-gci-sts-us1-prod.iam.gserviceaccount.com"
)

ComputedOutputs = Callable[[str, dict[str, Any], str], dict[str, Any]]


def _integration_sts(name: str, inputs: dict[str, Any], region: str) -> dict[str, Any]:
    return {"delegateAccountEmail": DELEGATE_ACCOUNT_EMAIL}


COMPUTED_DATADOG_GCP: dict[str, ComputedOutputs] = {
    "datadog:gcp/integrationSts:IntegrationSts": _integration_sts,
}
