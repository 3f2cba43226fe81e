"""The GitHub workflows: OIDC / Workload Identity Federation only, policy pack on every preview/up,
smoke after each deploy, prod behind an approval environment, on both clouds."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def load(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    assert isinstance(document, dict)
    # YAML 1.1 reads the bare key `on` as True.
    document["on"] = document.pop(True, document.get("on"))
    return document


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in steps(job) if str(step.get("uses", "")).startswith(action + "@")]


def runs(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in steps(job))


CI = load("ci.yml")
DEPLOY = load("deploy.yml")


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_no_long_lived_aws_keys_anywhere(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    for forbidden in (
        "aws-access-key-id",
        "aws-secret-access-key",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "secrets.AWS_",
        "credentials_json",  # a Google service account key
        "GOOGLE_CREDENTIALS",
        "GOOGLE_APPLICATION_CREDENTIALS",
    ):
        assert forbidden not in text, f"{name} uses {forbidden}"


@pytest.mark.parametrize("document", [CI, DEPLOY], ids=["ci", "deploy"])
def test_actions_are_pinned_and_aws_access_is_oidc(document: dict[str, Any]) -> None:
    assert document["permissions"] == {"contents": "read"}, "least privilege by default"
    for name, job in document["jobs"].items():
        for step in steps(job):
            if "uses" in step:
                assert re.search(r"@(v\d+(\.\d+)*|[0-9a-f]{40})$", step["uses"]), step["uses"]
        for step in uses(job, "aws-actions/configure-aws-credentials"):
            assert "role-to-assume" in step["with"], name
            assert job.get("permissions", {}).get("id-token") == "write", f"{name} lacks OIDC"
        for step in uses(job, "google-github-actions/auth"):
            assert set(step["with"]) == {"workload_identity_provider", "service_account"}, name
            assert job.get("permissions", {}).get("id-token") == "write", f"{name} lacks OIDC"


def test_pull_requests_lint_test_and_plan_every_stack() -> None:
    assert "pull_request" in CI["on"]
    test_job = CI["jobs"]["test"]
    assert "make lint" in runs(test_job) and "make test" in runs(test_job)
    plan = CI["jobs"]["plan"]
    stacks = {path.name.split(".")[1] for path in ROOT.glob("Pulumi.*.yaml")}
    assert (
        set(plan["strategy"]["matrix"]["stack"]) == stacks == {"dev", "prod", "gcp-dev", "gcp-prod"}
    )
    assert "make plan STACK=${{ matrix.stack }}" in runs(plan)
    assert "GITHUB_STEP_SUMMARY" in runs(plan)


def test_pull_requests_build_and_check_both_images_on_the_default_base() -> None:
    image = CI["jobs"]["image"]
    assert set(image["strategy"]["matrix"]["extras"]) == {"", "datadog"}
    commands = runs(image)
    assert "docker build -f service/Dockerfile" in commands
    assert "BASE_IMAGE" not in commands, "CI must build on the Dockerfile's own default base"
    assert "python -m ops.image_check awaterra-service:ci" in commands
    assert "--expect-ddtrace" in commands and "--postgres-url" in commands
    assert "make checkov STACK=${{ matrix.stack }}" in runs(CI["jobs"]["plan"])


def test_preview_runs_the_policy_pack_only_when_credentials_exist() -> None:
    preview = CI["jobs"]["preview"]
    assert "vars.AWS_ROLE_ARN" in preview["if"]
    assert set(preview["strategy"]["matrix"]["stack"]) == {"dev", "prod"}
    [pulumi] = uses(preview, "pulumi/actions")
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["policyPacks"] == "policy"
    assert pulumi["with"]["comment-on-summary"] is True
    assert pulumi["env"]["PULUMI_ACCESS_TOKEN"] == "${{ secrets.PULUMI_ACCESS_TOKEN }}"


def test_deploy_order_dev_smoke_prod_smoke() -> None:
    assert DEPLOY["on"]["push"]["branches"] == ["main"]
    jobs = DEPLOY["jobs"]
    assert jobs["smoke-dev"]["needs"] == ["deploy-dev"]
    assert jobs["deploy-prod"]["needs"] == ["smoke-dev"]
    assert jobs["smoke-prod"]["needs"] == ["deploy-prod"]
    assert jobs["deploy-prod"]["environment"] == "production"
    assert jobs["smoke-prod"]["environment"] == "production"
    for name in ("deploy-dev", "deploy-prod"):
        [pulumi] = uses(jobs[name], "pulumi/actions")
        assert pulumi["with"]["command"] == "up"
        assert pulumi["with"]["policyPacks"] == "policy"
    for name, deploy in (("smoke-dev", "deploy-dev"), ("smoke-prod", "deploy-prod")):
        assert f"needs.{deploy}.outputs.api_url" in str(jobs[name])
        assert ".github/scripts/smoke.sh" in runs(jobs[name])


def test_smoke_script_runs_ops_smoke_with_200_requests() -> None:
    script = (ROOT / ".github" / "scripts" / "smoke.sh").read_text()
    assert 'python -m ops.smoke "$API_URL"' in script and "--requests 200" in script
    assert "add-mask" in script, "the access token is masked in the log"


def test_google_cloud_stacks_preview_with_workload_identity_only_when_configured() -> None:
    preview = CI["jobs"]["preview-gcp"]
    assert "vars.GCP_WORKLOAD_IDENTITY_PROVIDER" in preview["if"]
    assert set(preview["strategy"]["matrix"]["stack"]) == {"gcp-dev", "gcp-prod"}
    assert uses(preview, "google-github-actions/auth")
    assert not uses(preview, "aws-actions/configure-aws-credentials")
    [pulumi] = uses(preview, "pulumi/actions")
    assert (pulumi["with"]["command"], pulumi["with"]["policyPacks"]) == ("preview", "policy")


def test_google_cloud_deploy_order_dev_smoke_prod_smoke() -> None:
    jobs = DEPLOY["jobs"]
    assert jobs["smoke-gcp-dev"]["needs"] == ["deploy-gcp-dev"]
    assert jobs["deploy-gcp-prod"]["needs"] == ["smoke-gcp-dev"]
    assert jobs["smoke-gcp-prod"]["needs"] == ["deploy-gcp-prod"]
    assert jobs["deploy-gcp-dev"]["needs"] == ["verify"]
    assert jobs["deploy-gcp-prod"]["environment"] == "production"
    for name in ("deploy-gcp-dev", "deploy-gcp-prod"):
        job = jobs[name]
        assert "vars.GCP_WORKLOAD_IDENTITY_PROVIDER" in job["if"]
        assert uses(job, "google-github-actions/auth")
        [pulumi] = uses(job, "pulumi/actions")
        assert (pulumi["with"]["command"], pulumi["with"]["policyPacks"]) == ("up", "policy")
        assert name.removeprefix("deploy-") in pulumi["with"]["stack-name"]
    for name, deploy in (
        ("smoke-gcp-dev", "deploy-gcp-dev"),
        ("smoke-gcp-prod", "deploy-gcp-prod"),
    ):
        assert f"needs.{deploy}.outputs.api_url" in str(jobs[name])
        assert ".github/scripts/smoke-gcp.sh" in runs(jobs[name])
        # The smoke job needs no cloud credentials at all: only the test user's refresh token.
        assert "id-token" not in jobs[name]["permissions"]


def test_google_cloud_smoke_script_trades_the_refresh_token_and_masks_the_id_token() -> None:
    script = (ROOT / ".github" / "scripts" / "smoke-gcp.sh").read_text()
    assert "https://securetoken.googleapis.com/v1/token" in script
    assert "grant_type=refresh_token" in script and '["id_token"]' in script
    assert "add-mask" in script and "--requests 200" in script
    assert 'python -m ops.smoke "$API_URL"' in script
