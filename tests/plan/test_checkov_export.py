"""The checkov export (a Terraform plan JSON) and the skip list, without checkov installed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from ops.checkov_export import (
    PROVIDER_NAME,
    TERRAFORM_TYPES,
    ExportError,
    argument_name,
    exported_resources,
    snake_case,
    terraform_plan,
)
from ops.checkov_scan import CheckovError, parse_report
from ops.offline import REPO_ROOT, SECRET_PLACEHOLDER, RecordedResource, Recording
from ops.plan import record
from policy.checkov_skips import Finding, Skip, SkipsError, load_skips, parse_skips, triage
from policy.exceptions import StackException

SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
BUCKET = "aws:s3/bucket:Bucket"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"


def resource(
    type_: str,
    name: str,
    inputs: dict[str, Any],
    *,
    outputs: dict[str, Any] | None = None,
    depends: dict[str, tuple[str, ...]] | None = None,
) -> RecordedResource:
    urn = f"urn:pulumi:test::awaterra::{type_}::{name}"
    return RecordedResource(
        type=type_,
        name=name,
        inputs=inputs,
        outputs={**inputs, **(outputs or {})},
        id=f"{name}-1234abcd",
        urn=urn,
        property_dependencies=depends or {},
    )


def urn_of(type_: str, name: str) -> str:
    return f"urn:pulumi:test::awaterra::{type_}::{name}"


def by_address(recording: Recording) -> dict[str, dict[str, Any]]:
    plan = terraform_plan(recording, "us-east-1")
    planned = {r["address"]: r for r in plan["planned_values"]["root_module"]["resources"]}
    configured = {r["address"]: r for r in plan["configuration"]["root_module"]["resources"]}
    return {a: {**planned[a], "expressions": configured[a]["expressions"]} for a in planned}


def small_recording() -> Recording:
    key = resource(
        "aws:kms/key:Key",
        "media-key",
        {"enableKeyRotation": True},
        outputs={"arn": "arn:aws:kms:us-east-1:123456789012:key/media-key"},
    )
    bucket = resource(BUCKET, "media-bucket", {"forceDestroy": False})
    encryption = resource(
        SSE,
        "media-encryption",
        {
            "bucket": bucket.id,
            "rules": [
                {
                    "applyServerSideEncryptionByDefault": {
                        "sseAlgorithm": "aws:kms",
                        "kmsMasterKeyId": key.outputs["arn"],
                    },
                    "bucketKeyEnabled": True,
                }
            ],
        },
        depends={"bucket": (bucket.urn,), "rules": (key.urn,)},
    )
    secret = resource(
        "aws:secretsmanager/secretVersion:SecretVersion",
        "api-key-version",
        {
            "secretString": {"4dabf18193072939515e22adb298388d": "x", "value": SECRET_PLACEHOLDER},
            "tags": {"CostCenter": "mobile", "managed-by": "pulumi"},
        },
    )
    dashboard = resource("datadog:index/dashboardJson:DashboardJson", "board", {"dashboard": "{}"})
    return Recording(stack="test", resources=[key, bucket, encryption, secret, dashboard])


def test_camel_case_inputs_become_terraform_argument_names() -> None:
    assert snake_case("kmsMasterKeyId") == "kms_master_key_id"
    assert snake_case("cidrIpv4") == "cidr_ipv4"
    assert snake_case("enableHttp2") == "enable_http2"
    assert (
        snake_case("routingHttpResponseXContentTypeOptionsHeaderValue")
        == "routing_http_response_x_content_type_options_header_value"
    )
    # Pulumi pluralises repeatable blocks; Terraform names them in the singular.
    assert argument_name("corsRules", [{"id": "a"}]) == "cors_rule"
    assert argument_name("rules", [{"id": "a"}]) == "rule"
    # A list of plain values keeps its (plural) Terraform name.
    assert argument_name("subnets", ["subnet-1"]) == "subnets"


def test_nested_objects_become_lists_of_blocks_and_references_name_the_address() -> None:
    exported = by_address(small_recording())
    sse = exported["aws_s3_bucket_server_side_encryption_configuration.media_encryption"]
    assert sse["provider_name"] == PROVIDER_NAME and sse["mode"] == "managed"
    # The bucket id is unknown when the plan is made: no value, a reference to the bucket.
    assert "bucket" not in sse["values"]
    assert sse["expressions"]["bucket"]["references"] == [
        "aws_s3_bucket.media_bucket.id",
        "aws_s3_bucket.media_bucket",
    ]
    (rule,) = sse["values"]["rule"]
    assert rule["bucket_key_enabled"] is True
    assert rule["apply_server_side_encryption_by_default"] == [{"sse_algorithm": "aws:kms"}]
    key_reference = sse["expressions"]["rule"][0]["apply_server_side_encryption_by_default"][0]
    assert key_reference["kms_master_key_id"]["references"][0] == "aws_kms_key.media_key.arn"


def test_secrets_are_left_out_and_tag_names_kept() -> None:
    recording = small_recording()
    exported = by_address(recording)
    version = exported["aws_secretsmanager_secret_version.api_key_version"]
    assert "secret_string" not in version["values"]
    assert version["sensitive_values"] == {"secret_string": True}
    assert version["values"]["tags"] == {"CostCenter": "mobile", "managed-by": "pulumi"}
    assert SECRET_PLACEHOLDER not in json.dumps(terraform_plan(recording, "us-east-1"))


def test_only_aws_resources_are_exported() -> None:
    types = {r.type for r in exported_resources(small_recording())}
    assert "datadog:index/dashboardJson:DashboardJson" not in types
    assert types <= set(TERRAFORM_TYPES.values())


def test_an_aws_type_without_a_terraform_type_is_refused_by_name() -> None:
    unknown = resource("aws:sagemaker/domain:Domain", "studio", {})
    with pytest.raises(ExportError, match="aws:sagemaker/domain:Domain"):
        exported_resources(Recording(stack="test", resources=[unknown]))


def test_two_resources_with_one_address_are_refused() -> None:
    first = resource(BUCKET, "media-bucket", {})
    second = resource(BUCKET, "media_bucket", {})
    with pytest.raises(ExportError, match=r"aws_s3_bucket\.media_bucket"):
        exported_resources(Recording(stack="test", resources=[first, second]))


# --- the real program (dev: no Datadog import, so this stays fast) -------------------------


def keys_of(value: Any, *, under_map: bool = False) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            if not under_map:
                yield key
            yield from keys_of(inner, under_map=key in {"tags", "tags_all", "recovery_point_tags"})
    elif isinstance(value, list):
        for inner in value:
            yield from keys_of(inner)


@pytest.fixture(scope="module")
def dev_plan() -> dict[str, dict[str, Any]]:
    return by_address(record("dev"))


def test_every_aws_resource_of_the_program_is_exported(dev_plan: dict[str, Any]) -> None:
    aws = [r for r in record("dev").resources if r.custom and r.type.startswith("aws:")]
    assert len(dev_plan) == len(aws)


def test_each_bucket_has_encryption_and_a_public_access_block_referencing_it(
    dev_plan: dict[str, Any],
) -> None:
    buckets = [a for a in dev_plan if a.startswith("aws_s3_bucket.")]
    assert buckets
    for bucket in buckets:
        for companion in (
            "aws_s3_bucket_server_side_encryption_configuration",
            "aws_s3_bucket_public_access_block",
            "aws_s3_bucket_versioning",
            "aws_s3_bucket_notification",
        ):
            referencing = [
                a
                for a, r in dev_plan.items()
                if r["type"] == companion
                and r["expressions"].get("bucket", {}).get("references", [None])[-1] == bucket
            ]
            assert len(referencing) == 1, (bucket, companion)


def test_arguments_are_snake_case_blocks_are_lists_and_references_resolve(
    dev_plan: dict[str, Any],
) -> None:
    for address, exported in dev_plan.items():
        for key in keys_of(exported["values"]):
            assert SNAKE.match(key), (address, key)
        for key, value in exported["values"].items():
            assert not isinstance(value, dict) or key in {"tags", "tags_all"}, (address, key)
        flat = json.dumps(exported["expressions"])
        for reference in re.findall(r'"(aws_[a-z0-9_]+\.[A-Za-z0-9_]+)"', flat):
            assert reference in dev_plan, (address, reference)
    service = dev_plan["aws_ecs_service.api_service"]
    assert service["values"]["deployment_circuit_breaker"] == [{"enable": True, "rollback": True}]
    assert service["values"]["load_balancer"][0]["container_name"] == "app"


# --- the skip list ----------------------------------------------------------------------------

EXCEPTIONS = {"dev": [StackException("alb-waf", "dev", "dev runs without a WAF, test only")]}
REASON = "a reason long enough to be read"


def test_the_skip_list_loads_and_every_dev_mirror_exists() -> None:
    skips = load_skips()
    assert skips
    assert all(skip.reason and skip.stacks and skip.resources for skip in skips)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"check": "AWS_1", "stacks": ["dev"], "resources": ["*"], "reason": REASON}, "checkov"),
        ({"check": "CKV_AZURE_1", "stacks": ["dev"], "resources": ["*"], "reason": REASON}, "GCP"),
        ({"check": "CKV_AWS_1", "stacks": ["dev"], "resources": ["*"], "reason": "x"}, "reason"),
        ({"check": "CKV_AWS_1", "stacks": [], "resources": ["*"], "reason": REASON}, "stacks"),
        ({"check": "CKV_AWS_1", "stacks": ["dev"], "reason": REASON}, "resources"),
        (
            {"check": "CKV_AWS_1", "stacks": ["dev"], "resources": ["*"], "reason": REASON, "x": 1},
            "unknown keys",
        ),
        (
            {
                "check": "CKV2_AWS_28",
                "stacks": ["dev", "prod"],
                "resources": ["aws_lb.*"],
                "reason": REASON,
                "mirrors": "alb-waf",
            },
            "no exception for stack prod",
        ),
    ],
)
def test_malformed_skips_are_refused(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(SkipsError, match=message):
        parse_skips({"skips": [entry]}, EXCEPTIONS)


def test_triage_splits_documented_unexplained_and_stale() -> None:
    waf = Skip("CKV2_AWS_28", ("dev",), ("aws_lb.*",), REASON, "alb-waf")
    stale = Skip("CKV_AWS_91", ("dev", "prod"), ("aws_lb.api",), REASON)
    failures = [Finding("CKV2_AWS_28", "aws_lb.api"), Finding("CKV_AWS_18", "aws_s3_bucket.b")]
    outcome = triage("dev", failures, [waf, stale])
    assert outcome.explained == [(failures[0], waf)]
    assert outcome.unexplained == [failures[1]]
    assert outcome.unused == [stale]
    # The same failure in a stack the entry does not name is unexplained.
    assert triage("prod", failures[:1], [waf]).unexplained == failures[:1]


def test_an_entry_counts_only_for_stacks_of_its_check_s_cloud() -> None:
    aws_dev = Skip("CKV_AWS_157", ("dev",), ("aws_db_instance.*",), REASON)
    gcp_dev = Skip("CKV_GCP_6", ("dev",), ("google_sql_database_instance.*",), REASON)
    gcp_failure = Finding("CKV_GCP_6", "google_sql_database_instance.db")
    on_gcp = triage("dev", [gcp_failure], [aws_dev, gcp_dev], cloud="gcp")
    assert on_gcp.explained == [(gcp_failure, gcp_dev)]
    assert on_gcp.unused == []  # the AWS entry is not stale on a Google Cloud stack
    on_aws = triage("dev", [], [aws_dev, gcp_dev], cloud="aws")
    assert on_aws.unused == [aws_dev]
    assert (aws_dev.cloud, gcp_dev.cloud) == ("aws", "gcp")


@pytest.mark.parametrize(
    ("name", "setting", "expected"),
    [("gcp-x", "awaterra:cloud: gcp", "gcp"), ("aws-x", "aws:region: us-east-1", "aws")],
)
def test_the_scan_triages_with_the_stack_s_cloud(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, setting: str, expected: str
) -> None:
    from ops import checkov_scan, offline
    from policy import environment as environments

    monkeypatch.setattr(environments, "PROJECT_ROOT", tmp_path)
    monkeypatch.setattr(offline, "STACK_DIR", tmp_path)
    (tmp_path / "Pulumi.yaml").write_text((REPO_ROOT / "Pulumi.yaml").read_text())
    (tmp_path / f"Pulumi.{name}.yaml").write_text(f"config:\n  {setting}\n")
    monkeypatch.setattr(checkov_scan, "export", lambda stack, path: path)
    monkeypatch.setattr(
        checkov_scan, "run_checkov", lambda *args: checkov_scan.ScanResult("3", 1, [])
    )
    seen: list[str] = []
    monkeypatch.setattr(
        checkov_scan,
        "triage",
        lambda env, failures, skips, cloud: (
            seen.append(cloud) or triage(env, failures, skips, cloud)
        ),
    )
    checkov_scan.main([name, "--checkov", str(tmp_path / "checkov")])
    assert seen == [expected]


def test_checkov_report_is_read_and_parsing_errors_are_refused() -> None:
    report = {
        "check_type": "terraform_plan",
        "summary": {"passed": 3, "failed": 1, "parsing_errors": 0, "checkov_version": "3.3.30"},
        "results": {
            "failed_checks": [
                {"check_id": "CKV_AWS_18", "resource": "aws_s3_bucket.b", "check_name": "logs"}
            ]
        },
    }
    result = parse_report([report])
    assert (result.passed, result.checkov_version) == (3, "3.3.30")
    assert result.failures == [Finding("CKV_AWS_18", "aws_s3_bucket.b", "logs")]
    broken = {**report, "summary": {**report["summary"], "parsing_errors": 1}}
    with pytest.raises(CheckovError, match="could not parse"):
        parse_report(broken)


@pytest.mark.slow
@pytest.mark.parametrize("stack", ["dev", "prod", "gcp-dev", "gcp-prod"])
def test_every_skip_names_resources_the_stack_exports(stack: str) -> None:
    from policy.environment import stack_cloud, stack_environment

    addresses = {r.address for r in exported_resources(record(stack))}
    environment, cloud = stack_environment(stack) or "", stack_cloud(stack)
    for skip in load_skips():
        if skip.applies_to(environment, cloud):
            named = [a for a in addresses if any(fnmatchcase(a, p) for p in skip.resources)]
            assert named, (skip.check_id, skip.resources)


def test_the_makefile_keeps_checkov_out_of_make_test() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    test_target = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "checkov" not in test_target
    assert "checkov" not in (REPO_ROOT / "requirements" / "dev.txt").read_text()


@pytest.mark.parametrize(
    ("name", "environment", "expected"),
    [
        ("dev-alice", "dev", "dev"),
        ("test", "prod", "prod"),
        ("noenvironment", "", "dev"),  # Pulumi.yaml's default
    ],
)
def test_checkov_skips_follow_the_environment_not_the_name(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    environment: str,
    expected: str,
) -> None:
    from ops import checkov_scan, offline
    from policy import environment as environments

    monkeypatch.setattr(environments, "PROJECT_ROOT", tmp_path)
    monkeypatch.setattr(offline, "STACK_DIR", tmp_path)
    (tmp_path / "Pulumi.yaml").write_text((REPO_ROOT / "Pulumi.yaml").read_text())
    # A stack file without the key takes Pulumi.yaml's default environment.
    setting = f"awaterra:environment: {environment}" if environment else "aws:region: us-east-1"
    (tmp_path / f"Pulumi.{name}.yaml").write_text(f"config:\n  {setting}\n")
    monkeypatch.setattr(checkov_scan, "export", lambda stack, path: path)
    monkeypatch.setattr(
        checkov_scan, "run_checkov", lambda *args: checkov_scan.ScanResult("3", 1, [])
    )
    seen: list[str] = []
    real_triage = checkov_scan.triage

    def spy(stack: str, *args: Any) -> Any:
        seen.append(stack)
        return real_triage(stack, *args)

    monkeypatch.setattr(checkov_scan, "triage", spy)
    checkov_scan.main([name, "--checkov", str(tmp_path / "checkov")])
    assert seen == [expected]
