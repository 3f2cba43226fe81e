"""One rule set, two runners: the real CrossGuard analyzer (pulumi_policy's gRPC servicer, fed the
recorded program as the engine would send it) reports exactly what the offline engine finds."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from ops.offline import REPO_ROOT, RecordedResource
from ops.plan import record
from policy.crossguard import PACK_NAME, build_policies
from policy.engine import evaluate, evaluate_recording, views

pytestmark = pytest.mark.skipif(
    not (REPO_ROOT / "__main__.py").exists(), reason="the Pulumi program (__main__.py) is not there"
)


def struct(values: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    json_format.ParseDict(json.loads(json.dumps(values, default=str)), message)
    return message


def analyze(resources: list[RecordedResource], exceptions: Any = None) -> set[tuple[str, str]]:
    """(policy, urn) of every violation the CrossGuard analyzer reports."""
    servicer = _PolicyAnalyzerServicer(
        PACK_NAME, "0.0.1", build_policies(exceptions=exceptions), EnforcementLevel.ADVISORY
    )
    found: set[tuple[str, str]] = set()
    for resource in resources:
        request = proto.AnalyzeRequest(
            type=resource.type,
            properties=struct(resource.inputs),
            urn=resource.urn,
            name=resource.name,
        )
        for diagnostic in servicer.Analyze(request, None).diagnostics:
            found.add((diagnostic.policyName, diagnostic.urn or resource.urn))
    stack_request = proto.AnalyzeStackRequest(
        resources=[
            proto.AnalyzerResource(
                type=resource.type,
                properties=struct(resource.outputs),
                urn=resource.urn,
                name=resource.name,
                parent=resource.parent or "",
                propertyDependencies={
                    key: proto.AnalyzerPropertyDependencies(urns=list(urns))
                    for key, urns in resource.property_dependencies.items()
                },
            )
            for resource in resources
        ]
    )
    for diagnostic in servicer.AnalyzeStack(stack_request, None).diagnostics:
        found.add((diagnostic.policyName, diagnostic.urn))
    return found


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_crossguard_reports_what_the_offline_engine_reports(stack: str) -> None:
    resources = record(stack).resources
    inputs, outputs = views(resources)
    offline = evaluate(stack, inputs, outputs, exceptions={})
    expected = {(finding.rule_id, finding.urn) for finding in offline.findings}
    assert expected, "without exceptions every stack has some findings to compare"
    assert analyze(resources, exceptions={}) == expected


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_crossguard_applies_the_stack_exceptions(stack: str) -> None:
    resources = record(stack).resources
    report = evaluate_recording(stack, resources)
    assert analyze(resources) == {(finding.rule_id, finding.urn) for finding in report.unexcepted}


def test_unknown_inputs_in_a_preview_do_not_raise_violations() -> None:
    """The real program's prod resources with every ARN-like string unknown, as in a preview."""

    def blur(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: blur(item) for key, item in value.items()}
        if isinstance(value, list):
            return [blur(item) for item in value]
        if isinstance(value, str) and (value.startswith("arn:") or value.startswith("{")):
            return UNKNOWN_STRING_VALUE
        return value

    blurred = [
        RecordedResource(
            r.type,
            r.name,
            blur(r.inputs),
            blur(r.outputs),
            r.id,
            r.provider,
            r.urn,
            r.parent,
            r.property_dependencies,
            r.custom,
        )
        for r in record("prod").resources
    ]
    assert analyze(blurred) == set()
