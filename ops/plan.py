"""The offline plan: what a stack would create, what the rules say about it, what it costs.

    python -m ops.plan prod            # text (make plan STACK=prod)
    python -m ops.plan prod --json     # one JSON document (make plan STACK=prod ARGS=--json)
    python -m ops.plan --update-snapshots   # refresh tests/plan/snapshots/*.json (make plan-update)

Runs the Pulumi program in-process under the offline mocks (ops.offline) with the stack's config;
secrets (declared `secret: true` in Pulumi.yaml, or `secure:` in the stack file) are replaced by
placeholders, so no CLI, backend or credentials are needed. Resources are grouped by the
component that owns them (the parent chain), each with the settings that matter for its type.
Exits 1 when a high or critical rule fails without a documented exception, 2 when the stack's
configuration is invalid (one line per problem: the key, the value and what is allowed; a YAML
error as file:line:column: problem), with no traceback.

Which rules apply comes from the stack's `awaterra:environment` (dev or prod), never its name:
the exceptions of policy/exceptions.yaml, the policy thresholds and the cost assumptions.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from components.settings import SettingsError
from components.settings_gcp import applies_to
from ops import offline
from ops.cost import estimate, render
from ops.offline import (
    REPO_ROOT,
    SECRET_PLACEHOLDER,
    RecordedResource,
    Recording,
    StackFileError,
    run_program,
    stack_config,
)
from policy.engine import Report, evaluate_recording
from policy.environment import environment_of
from policy.rules import RULES

CONFIG_ERROR_EXIT = 2

SNAPSHOT_DIR = REPO_ROOT / "tests" / "plan" / "snapshots"
STACK_ROOT = "(stack)"

# The settings worth reading in a review, per type (camelCase input paths).
SUMMARY_FIELDS: dict[str, tuple[str, ...]] = {
    "aws:ec2/vpc:Vpc": ("cidrBlock", "enableDnsHostnames"),
    "aws:ec2/subnet:Subnet": ("cidrBlock", "availabilityZone", "mapPublicIpOnLaunch"),
    "aws:ec2/natGateway:NatGateway": ("connectivityType",),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("serviceName", "vpcEndpointType"),
    "aws:ec2/flowLog:FlowLog": ("trafficType", "logDestinationType", "maxAggregationInterval"),
    "aws:ec2/securityGroup:SecurityGroup": ("description",),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        "ipProtocol",
        "fromPort",
        "toPort",
        "cidrIpv4",
        "cidrIpv6",
        "description",
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": (
        "ipProtocol",
        "fromPort",
        "toPort",
        "cidrIpv4",
        "prefixListId",
        "description",
    ),
    "aws:rds/instance:Instance": (
        "engine",
        "engineVersion",
        "instanceClass",
        "allocatedStorage",
        "maxAllocatedStorage",
        "storageType",
        "multiAz",
        "storageEncrypted",
        "publiclyAccessible",
        "backupRetentionPeriod",
        "deletionProtection",
        "skipFinalSnapshot",
        "performanceInsightsEnabled",
        "manageMasterUserPassword",
        "iamDatabaseAuthenticationEnabled",
    ),
    "aws:rds/parameterGroup:ParameterGroup": ("family",),
    "aws:s3/bucket:Bucket": ("forceDestroy",),
    "aws:s3/bucketVersioning:BucketVersioning": ("versioningConfiguration.status",),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "rules.0.applyServerSideEncryptionByDefault.sseAlgorithm",
        "rules.0.bucketKeyEnabled",
    ),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ("rule.objectOwnership",),
    "aws:kms/key:Key": ("description", "enableKeyRotation", "deletionWindowInDays"),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "retentionInDays"),
    "aws:ecr/repository:Repository": (
        "imageTagMutability",
        "imageScanningConfiguration.scanOnPush",
        "encryptionConfigurations.0.encryptionType",
    ),
    "aws:ecs/cluster:Cluster": ("settings.0.name", "settings.0.value"),
    "aws:ecs/service:Service": (
        "launchType",
        "platformVersion",
        "desiredCount",
        "networkConfiguration.assignPublicIp",
        "deploymentCircuitBreaker.enable",
        "deploymentCircuitBreaker.rollback",
        "enableExecuteCommand",
    ),
    "aws:ecs/taskDefinition:TaskDefinition": (
        "family",
        "cpu",
        "memory",
        "runtimePlatform.cpuArchitecture",
    ),
    "aws:appautoscaling/target:Target": ("minCapacity", "maxCapacity"),
    "aws:lb/loadBalancer:LoadBalancer": (
        "loadBalancerType",
        "internal",
        "dropInvalidHeaderFields",
        "enableDeletionProtection",
        "accessLogs.enabled",
        "idleTimeout",
    ),
    "aws:lb/listener:Listener": ("port", "protocol", "sslPolicy", "defaultActions.0.type"),
    "aws:lb/listenerRule:ListenerRule": ("priority", "actions.0.type"),
    "aws:lb/targetGroup:TargetGroup": ("port", "protocol", "targetType", "healthCheck.path"),
    "aws:acm/certificate:Certificate": ("domainName", "validationMethod"),
    "aws:route53/record:Record": ("name", "type"),
    "aws:cognito/userPool:UserPool": (
        "mfaConfiguration",
        "deletionProtection",
        "userPoolTier",
        "passwordPolicy.minimumLength",
    ),
    "aws:wafv2/webAcl:WebAcl": ("scope", "defaultAction"),
    "aws:backup/plan:Plan": ("rules.0.schedule", "rules.0.lifecycle.deleteAfter"),
    "aws:backup/vault:Vault": ("name",),
    "aws:secretsmanager/secret:Secret": ("recoveryWindowInDays",),
    # Google Cloud (awaterra:cloud gcp)
    "gcp:compute/network:Network": ("autoCreateSubnetworks", "routingMode"),
    "gcp:compute/subnetwork:Subnetwork": ("ipCidrRange", "region", "privateIpGoogleAccess"),
    "gcp:compute/firewall:Firewall": ("direction", "priority", "sourceRanges"),
    "gcp:sql/databaseInstance:DatabaseInstance": (
        "databaseVersion",
        "deletionProtection",
        "settings.tier",
        "settings.edition",
        "settings.availabilityType",
        "settings.diskSize",
        "settings.deletionProtectionEnabled",
        "settings.ipConfiguration.ipv4Enabled",
        "settings.ipConfiguration.sslMode",
        "settings.backupConfiguration.location",
        "settings.backupConfiguration.pointInTimeRecoveryEnabled",
        "settings.backupConfiguration.backupRetentionSettings.retainedBackups",
    ),
    "gcp:sql/user:User": ("type",),
    "gcp:storage/bucket:Bucket": (
        "location",
        "publicAccessPrevention",
        "uniformBucketLevelAccess",
        "versioning.enabled",
        "logging.logBucket",
        "forceDestroy",
    ),
    "gcp:storage/bucketIAMMember:BucketIAMMember": ("role", "member"),
    "gcp:cloudrunv2/service:Service": (
        "ingress",
        "defaultUriDisabled",
        "deletionProtection",
        "template.scaling.minInstanceCount",
        "template.scaling.maxInstanceCount",
        "template.containers.0.resources.limits.cpu",
        "template.containers.0.resources.limits.memory",
    ),
    "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": ("role", "member"),
    "gcp:compute/securityPolicy:SecurityPolicy": ("type",),
    "gcp:compute/sSLPolicy:SSLPolicy": ("profile", "minTlsVersion"),
    "gcp:compute/globalForwardingRule:GlobalForwardingRule": ("portRange", "loadBalancingScheme"),
    "gcp:dns/recordSet:RecordSet": ("name", "type"),
}

# Digests and content hashes change with every source edit; the plan shows their shape only.
_VOLATILE = [
    (re.compile(r"sha256:[0-9a-f]{64}"), "sha256:<digest>"),
    (re.compile(r":(?=[0-9]*[a-f])[0-9a-f]{12,64}\b"), ":<content-hash>"),
]


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        if SECRET_PLACEHOLDER in value:
            return "[secret]"
        for pattern, replacement in _VOLATILE:
            value = pattern.sub(replacement, value)
        return value
    if isinstance(value, Mapping):
        return {str(k): _scrub(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_scrub(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _get(props: Mapping[str, Any], path: str) -> Any:
    current: Any = props
    for step in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(step)
        elif isinstance(current, list) and step.isdigit() and int(step) < len(current):
            current = current[int(step)]
        else:
            return None
    return current


def _containers(resource: RecordedResource) -> dict[str, Any]:
    raw = resource.inputs.get("containerDefinitions")
    try:
        containers = json.loads(raw) if isinstance(raw, str) else raw or []
    except json.JSONDecodeError:
        return {"containers": "unparseable containerDefinitions"}
    return {
        "containers": [
            {
                "name": c.get("name"),
                "image": str(c.get("image", "")).split("@")[0].split(":")[0],
                "essential": c.get("essential", True),
                "readonlyRootFilesystem": c.get("readonlyRootFilesystem"),
                "user": c.get("user"),
            }
            for c in containers
            if isinstance(c, Mapping)
        ]
    }


def _wafv2_rules(resource: RecordedResource) -> dict[str, Any]:
    return {"rules": [rule.get("name") for rule in resource.inputs.get("rules") or []]}


DERIVED: dict[str, Callable[[RecordedResource], dict[str, Any]]] = {
    "aws:ecs/taskDefinition:TaskDefinition": _containers,
    "aws:wafv2/webAcl:WebAcl": _wafv2_rules,
}


def settings_of(resource: RecordedResource) -> dict[str, Any]:
    found = {path: _get(resource.inputs, path) for path in SUMMARY_FIELDS.get(resource.type, ())}
    found = {path: value for path, value in found.items() if value is not None}
    derive = DERIVED.get(resource.type)
    if derive:
        found.update(derive(resource))
    scrubbed: dict[str, Any] = _scrub(found)
    return scrubbed


def secret_placeholders(stack: str) -> dict[str, str]:
    """Placeholders for secrets the project declares but the stack file leaves to `pulumi config
    set --secret` (e.g. Datadog keys): the program must run without anyone's real keys."""
    project = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text()) or {}
    declared = project.get("config") or {}
    present, _ = stack_config(stack)
    cloud = present.get("awaterra:cloud", "aws")
    missing = {}
    for key, spec in declared.items():
        full = key if ":" in key else f"{project.get('name', 'awaterra')}:{key}"
        # Only the keys this stack's cloud reads (a key of the other cloud is refused).
        if ":" not in key and not applies_to(key, cloud):
            continue
        # grafanaToken belongs to a grafanaUrl the stack file would name; none: no token.
        grafana_url = present.get(f"{project.get('name', 'awaterra')}:grafanaUrl")
        if key == "grafanaToken" and not grafana_url:
            continue
        if isinstance(spec, Mapping) and spec.get("secret") and full not in present:
            missing[full] = SECRET_PLACEHOLDER
    return missing


@functools.lru_cache(maxsize=8)
def record(stack: str, config: tuple[tuple[str, str], ...] = ()) -> Recording:
    """One offline run of the program for `stack` (cached: plan, cost and policy tests share it);
    `config` overrides keys of the stack file (`--config monitoring=prometheus`)."""
    if not (offline.STACK_DIR / f"Pulumi.{stack}.yaml").exists():
        raise SystemExit(f"no Pulumi.{stack}.yaml: known stacks are {', '.join(known_stacks())}")
    return run_program(stack, {**secret_placeholders(stack), **dict(config)})


def known_stacks() -> list[str]:
    return sorted(
        path.name.removeprefix("Pulumi.").removesuffix(".yaml")
        for path in offline.STACK_DIR.glob("Pulumi.*.yaml")
    )


def component_path(resource: RecordedResource, by_urn: Mapping[str, RecordedResource]) -> str:
    names: list[str] = []
    parent = resource.parent
    while parent and parent in by_urn:
        owner = by_urn[parent]
        names.append(f"{owner.name} ({owner.type})")
        parent = owner.parent
    return " / ".join(reversed(names)) or STACK_ROOT


def policy_summary(report: Report) -> dict[str, Any]:
    return {
        "rules": len(RULES),
        "blocking": len(report.blocking),
        "advisory": len(report.unexcepted) - len(report.blocking),
        "excepted": len(report.findings) - len(report.unexcepted),
        **report.as_dict(),
    }


def rules_line(stack: str, environment: str | None) -> str:
    """Which rules the plan applied, and why (the environment setting, not the stack's name)."""
    if environment is None:
        return (
            f"stack {stack}: environment unknown — no exceptions, production thresholds, "
            "prod cost assumptions"
        )
    return (
        f"stack {stack}: environment {environment} (awaterra:environment) — {environment} "
        f"exceptions from policy/exceptions.yaml, {environment} thresholds, {environment} cost "
        "assumptions"
    )


def build_plan(stack: str, recording: Recording | None = None) -> dict[str, Any]:
    """The stack's plan as one deterministic, JSON-ready document (of `recording`, or of one
    offline run of the stack file)."""
    recording = recording or record(stack)
    environment = environment_of(recording.config)
    by_urn = {r.urn: r for r in recording.resources if r.urn}
    groups: dict[str, list[dict[str, Any]]] = {}
    managed = [
        r for r in recording.resources if r.custom and not r.type.startswith("pulumi:providers:")
    ]
    for resource in managed:
        groups.setdefault(component_path(resource, by_urn), []).append(
            {"type": resource.type, "name": resource.name, "settings": settings_of(resource)}
        )
    report = evaluate_recording(stack, recording.resources, environment)
    return {
        "stack": stack,
        "environment": environment,
        "rules_applied": rules_line(stack, environment),
        "warnings": list(recording.warnings),
        "resource_count": len(managed),
        "components": [
            {"component": path, "resources": sorted(items, key=lambda i: (i["type"], i["name"]))}
            for path, items in sorted(groups.items())
        ],
        "outputs": _scrub(
            {
                # As `pulumi stack output` shows a secret without --show-secrets.
                name: "[secret]" if name in recording.secret_outputs else value
                for name, value in recording.outputs.items()
            }
        ),
        "policy": policy_summary(report),
        "cost": _scrub(
            estimate(stack, recording.resources, environment=environment or "prod").as_dict()
        ),
    }


def _format_value(value: Any) -> str:
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else str(value)


def render_text(plan: Mapping[str, Any]) -> str:
    lines = [
        f"Plan for stack {plan['stack']}: {plan['resource_count']} resources in "
        f"{len(plan['components'])} components (offline, under mocks)",
        plan["rules_applied"],
        "",
    ]
    if plan["warnings"]:
        lines.append(f"!! {len(plan['warnings'])} WARNING(S): read before deploying")
        lines += [f"!! {warning}" for warning in plan["warnings"]]
        lines.append("")
    for group in plan["components"]:
        lines.append(f"== {group['component']}  [{len(group['resources'])}]")
        for item in group["resources"]:
            settings = " ".join(f"{k}={_format_value(v)}" for k, v in item["settings"].items())
            lines.append(f"   {item['type']:<58} {item['name']}  {settings}".rstrip())
    lines += ["", "Outputs:"]
    lines += [f"   {key} = {_format_value(value)}" for key, value in plan["outputs"].items()]
    policy = plan["policy"]
    lines += [
        "",
        f"Policy: {policy['rules']} rules; {policy['blocking']} blocking, "
        f"{policy['advisory']} advisory, {policy['excepted']} excepted findings",
    ]
    for finding in policy["findings"]:
        tag = (
            "EXCEPTED"
            if finding["exception"]
            else ("BLOCKING" if finding["severity"] in ("high", "critical") else "ADVISORY")
        )
        lines.append(
            f"   [{tag} {finding['severity']}] {finding['rule']} {finding['name']}: "
            f"{finding['message']}"
        )
        if finding["exception"]:
            lines.append(f"        exception: {finding['exception']}")
    for unused in policy["unused_exceptions"]:
        lines.append(f"   [UNUSED EXCEPTION] {unused['rule']}: matches no finding; remove it")
    lines += ["", _render_cost(plan["cost"])]
    return "\n".join(lines)


def _render_cost(cost: Mapping[str, Any]) -> str:
    from ops.cost import CostEstimate, CostItem

    estimate_ = CostEstimate(
        cost["stack"],
        [CostItem(**item) for item in cost["items"]],
        dict(cost["assumptions"]),
        region=cost.get("region", "us-east-1"),
        prices_as_of=cost.get("prices_as_of", ""),
    )
    return render(estimate_)


def snapshot_path(stack: str) -> Path:
    return SNAPSHOT_DIR / f"{stack}.json"


def dump(plan: Mapping[str, Any]) -> str:
    return json.dumps(plan, indent=2, sort_keys=True) + "\n"


def snapshot_diff(stack: str, plan: Mapping[str, Any] | None = None) -> str:
    """A unified diff between the reviewed snapshot and the program's plan now ("" if equal)."""
    current = dump(plan if plan is not None else build_plan(stack))
    path = snapshot_path(stack)
    reviewed = path.read_text() if path.exists() else ""
    if current == reviewed:
        return ""
    return "".join(
        difflib.unified_diff(
            reviewed.splitlines(keepends=True),
            current.splitlines(keepends=True),
            fromfile=f"{_display(path)} (reviewed)",
            tofile=f"{stack} plan (now)",
            n=2,
        )
    )


def _display(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def update_snapshots(stacks: Sequence[str]) -> None:
    SNAPSHOT_DIR.mkdir(parents=True, exist_ok=True)
    for stack in stacks:
        snapshot_path(stack).write_text(dump(build_plan(stack)))
        print(f"wrote {_display(snapshot_path(stack))}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.plan", description=__doc__.split("\n")[0])
    parser.add_argument("stack", nargs="?", help="stack name (dev, prod)")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a key of the stack file for this plan (repeatable), e.g. "
        "monitoring=prometheus",
    )
    parser.add_argument(
        "--update-snapshots",
        action="store_true",
        help="rewrite tests/plan/snapshots for the stack (or every stack)",
    )
    args = parser.parse_args(argv)
    if args.update_snapshots:
        update_snapshots([args.stack] if args.stack else known_stacks())
        return 0
    if not args.stack:
        parser.error(f"name a stack: {', '.join(known_stacks())}")
    if args.stack not in known_stacks():
        parser.error(f"no Pulumi.{args.stack}.yaml: known stacks are {', '.join(known_stacks())}")
    overrides = {}
    for item in args.config:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"--config takes KEY=VALUE, got {item!r}")
        overrides[key] = value
    try:
        plan = build_plan(
            args.stack, record(args.stack, tuple(sorted(overrides.items()))) if overrides else None
        )
    except SettingsError as error:
        print(f"stack {args.stack}: invalid configuration, nothing planned", file=sys.stderr)
        for problem in error.problems:
            print(f"error: {problem}", file=sys.stderr)
        return CONFIG_ERROR_EXIT
    except StackFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return CONFIG_ERROR_EXIT
    print(dump(plan) if args.json else render_text(plan), end="" if args.json else "\n")
    return 1 if plan["policy"]["blocking"] else 0


if __name__ == "__main__":
    sys.exit(main())
