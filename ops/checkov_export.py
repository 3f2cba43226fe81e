"""Export a stack's offline recording as a Terraform plan (JSON) that checkov can scan.

    python -m ops.checkov_export prod [-o build/checkov/prod.tfplan.json]

checkov cannot read a Pulumi program, but it reads `terraform show -json` plans
(`checkov -f plan.json --framework terraform_plan`). pulumi-aws is generated from the Terraform
AWS provider, so the translation is mechanical: the type token maps to the Terraform type
(`TERRAFORM_TYPES`), camelCase inputs become snake_case arguments, nested objects become
single-element lists of blocks, and lists Pulumi pluralised become the singular block name
Terraform uses (`BLOCK_NAMES`). pulumi-gcp is bridged from terraform-provider-google the same
way (`GOOGLE_TERRAFORM_TYPES`, `GOOGLE_BLOCK_NAMES`, provider hashicorp/google).
Other resources (Datadog, Docker, providers, components) are left out.

A value that came from another resource (the bucket a `BucketVersioning` configures, the
subnets of a service) is emitted the way Terraform plans a new resource: unknown in
`planned_values` (`after_unknown` in `resource_changes`) and a reference to the other resource's
address in `configuration` expressions. checkov builds its graph from those references, which is
what its connection checks (bucket <-> encryption / versioning / public access block / logging,
security group <-> its users) walk. Secrets are never written.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops.offline import REPO_ROOT, SECRET_PLACEHOLDER, RecordedResource, Recording, stack_config
from ops.plan import record

PROVIDER_NAME = "registry.terraform.io/hashicorp/aws"
GOOGLE_PROVIDER_NAME = "registry.terraform.io/hashicorp/google"
# The Terraform CLI version the document claims to come from; checkov only reports it.
TERRAFORM_VERSION = "1.9.8"
DEFAULT_OUTPUT_DIR = REPO_ROOT / "build" / "checkov"

# Pulumi type token -> Terraform resource type, for every AWS type the program creates.
TERRAFORM_TYPES: dict[str, str] = {
    "aws:acm/certificate:Certificate": "aws_acm_certificate",
    "aws:acm/certificateValidation:CertificateValidation": "aws_acm_certificate_validation",
    "aws:appautoscaling/policy:Policy": "aws_appautoscaling_policy",
    "aws:appautoscaling/target:Target": "aws_appautoscaling_target",
    "aws:backup/plan:Plan": "aws_backup_plan",
    "aws:backup/selection:Selection": "aws_backup_selection",
    "aws:backup/vault:Vault": "aws_backup_vault",
    "aws:backup/vaultLockConfiguration:VaultLockConfiguration": (
        "aws_backup_vault_lock_configuration"
    ),
    "aws:cloudwatch/logGroup:LogGroup": "aws_cloudwatch_log_group",
    "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": "aws_cloudwatch_log_resource_policy",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "aws_cloudwatch_metric_alarm",
    "aws:cognito/userGroup:UserGroup": "aws_cognito_user_group",
    "aws:cognito/userPool:UserPool": "aws_cognito_user_pool",
    "aws:cognito/userPoolClient:UserPoolClient": "aws_cognito_user_pool_client",
    "aws:cognito/userPoolDomain:UserPoolDomain": "aws_cognito_user_pool_domain",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "aws_default_security_group",
    "aws:ec2/eip:Eip": "aws_eip",
    "aws:ec2/flowLog:FlowLog": "aws_flow_log",
    "aws:ec2/internetGateway:InternetGateway": "aws_internet_gateway",
    "aws:ec2/natGateway:NatGateway": "aws_nat_gateway",
    "aws:ec2/routeTable:RouteTable": "aws_route_table",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "aws_route_table_association",
    "aws:ec2/securityGroup:SecurityGroup": "aws_security_group",
    "aws:ec2/subnet:Subnet": "aws_subnet",
    "aws:ec2/vpc:Vpc": "aws_vpc",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "aws_vpc_endpoint",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": "aws_ecr_lifecycle_policy",
    "aws:ecr/repository:Repository": "aws_ecr_repository",
    "aws:ecs/cluster:Cluster": "aws_ecs_cluster",
    "aws:ecs/service:Service": "aws_ecs_service",
    "aws:ecs/taskDefinition:TaskDefinition": "aws_ecs_task_definition",
    "aws:iam/policy:Policy": "aws_iam_policy",
    "aws:iam/role:Role": "aws_iam_role",
    "aws:iam/rolePolicy:RolePolicy": "aws_iam_role_policy",
    "aws:scheduler/schedule:Schedule": "aws_scheduler_schedule",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "aws_iam_role_policy_attachment",
    "aws:kms/alias:Alias": "aws_kms_alias",
    "aws:kms/key:Key": "aws_kms_key",
    "aws:lb/listener:Listener": "aws_lb_listener",
    "aws:lb/listenerRule:ListenerRule": "aws_lb_listener_rule",
    "aws:lb/loadBalancer:LoadBalancer": "aws_lb",
    "aws:lb/targetGroup:TargetGroup": "aws_lb_target_group",
    "aws:rds/instance:Instance": "aws_db_instance",
    "aws:rds/parameterGroup:ParameterGroup": "aws_db_parameter_group",
    "aws:rds/subnetGroup:SubnetGroup": "aws_db_subnet_group",
    "aws:route53/record:Record": "aws_route53_record",
    "aws:s3/bucket:Bucket": "aws_s3_bucket",
    "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration": "aws_s3_bucket_cors_configuration",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (
        "aws_s3_bucket_lifecycle_configuration"
    ),
    "aws:s3/bucketLogging:BucketLogging": "aws_s3_bucket_logging",
    "aws:s3/bucketNotification:BucketNotification": "aws_s3_bucket_notification",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "aws_s3_bucket_ownership_controls",
    "aws:s3/bucketPolicy:BucketPolicy": "aws_s3_bucket_policy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "aws_s3_bucket_public_access_block",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "aws_s3_bucket_server_side_encryption_configuration"
    ),
    "aws:s3/bucketVersioning:BucketVersioning": "aws_s3_bucket_versioning",
    "aws:secretsmanager/secret:Secret": "aws_secretsmanager_secret",
    "aws:secretsmanager/secretVersion:SecretVersion": "aws_secretsmanager_secret_version",
    "aws:sns/topic:Topic": "aws_sns_topic",
    "aws:sns/topicPolicy:TopicPolicy": "aws_sns_topic_policy",
    "aws:sns/topicSubscription:TopicSubscription": "aws_sns_topic_subscription",
    # The prometheus path (components/aws/prometheus.py, components/aws/grafana.py).
    "aws:amp/workspace:Workspace": "aws_prometheus_workspace",
    "aws:amp/ruleGroupNamespace:RuleGroupNamespace": "aws_prometheus_rule_group_namespace",
    "aws:amp/alertManagerDefinition:AlertManagerDefinition": (
        "aws_prometheus_alert_manager_definition"
    ),
    "aws:grafana/workspace:Workspace": "aws_grafana_workspace",
    "aws:grafana/workspaceServiceAccount:WorkspaceServiceAccount": (
        "aws_grafana_workspace_service_account"
    ),
    "aws:grafana/workspaceServiceAccountToken:WorkspaceServiceAccountToken": (
        "aws_grafana_workspace_service_account_token"
    ),
    "aws:sqs/queue:Queue": "aws_sqs_queue",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": (
        "aws_vpc_security_group_egress_rule"
    ),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        "aws_vpc_security_group_ingress_rule"
    ),
    "aws:wafv2/ipSet:IpSet": "aws_wafv2_ip_set",
    "aws:wafv2/webAcl:WebAcl": "aws_wafv2_web_acl",
    "aws:wafv2/webAclAssociation:WebAclAssociation": "aws_wafv2_web_acl_association",
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": (
        "aws_wafv2_web_acl_logging_configuration"
    ),
}

# Pulumi type token -> Terraform resource type for pulumi-gcp, which is bridged from
# terraform-provider-google the same way (the Google Cloud components' types and their relatives).
GOOGLE_TERRAFORM_TYPES: dict[str, str] = {
    "gcp:artifactregistry/repository:Repository": "google_artifact_registry_repository",
    "gcp:identityplatform/config:Config": "google_identity_platform_config",
    "gcp:firebase/project:Project": "google_firebase_project",
    "gcp:firebase/appleApp:AppleApp": "google_firebase_apple_app",
    "gcp:firebase/androidApp:AndroidApp": "google_firebase_android_app",
    "gcp:projects/apiKey:ApiKey": "google_apikeys_key",
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": (
        "google_artifact_registry_repository_iam_member"
    ),
    "gcp:certificatemanager/certificate:Certificate": "google_certificate_manager_certificate",
    "gcp:cloudrunv2/job:Job": "google_cloud_run_v2_job",
    "gcp:cloudrunv2/jobIamMember:JobIamMember": "google_cloud_run_v2_job_iam_member",
    "gcp:cloudscheduler/job:Job": "google_cloud_scheduler_job",
    "gcp:cloudrunv2/service:Service": "google_cloud_run_v2_service",
    "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": "google_cloud_run_v2_service_iam_member",
    "gcp:compute/backendService:BackendService": "google_compute_backend_service",
    "gcp:compute/firewall:Firewall": "google_compute_firewall",
    "gcp:compute/globalAddress:GlobalAddress": "google_compute_global_address",
    "gcp:compute/globalForwardingRule:GlobalForwardingRule": (
        "google_compute_global_forwarding_rule"
    ),
    "gcp:compute/managedSslCertificate:ManagedSslCertificate": (
        "google_compute_managed_ssl_certificate"
    ),
    "gcp:compute/network:Network": "google_compute_network",
    "gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup": (
        "google_compute_region_network_endpoint_group"
    ),
    "gcp:compute/router:Router": "google_compute_router",
    "gcp:compute/routerNat:RouterNat": "google_compute_router_nat",
    "gcp:compute/sSLPolicy:SSLPolicy": "google_compute_ssl_policy",
    "gcp:compute/securityPolicy:SecurityPolicy": "google_compute_security_policy",
    "gcp:compute/subnetwork:Subnetwork": "google_compute_subnetwork",
    "gcp:compute/targetHttpProxy:TargetHttpProxy": "google_compute_target_http_proxy",
    "gcp:compute/targetHttpsProxy:TargetHttpsProxy": "google_compute_target_https_proxy",
    "gcp:compute/uRLMap:URLMap": "google_compute_url_map",
    "gcp:dns/managedZone:ManagedZone": "google_dns_managed_zone",
    "gcp:dns/recordSet:RecordSet": "google_dns_record_set",
    "gcp:kms/cryptoKey:CryptoKey": "google_kms_crypto_key",
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": "google_kms_crypto_key_iam_member",
    "gcp:kms/keyRing:KeyRing": "google_kms_key_ring",
    "gcp:projects/serviceIdentity:ServiceIdentity": "google_project_service_identity",
    "gcp:logging/projectBucketConfig:ProjectBucketConfig": "google_logging_project_bucket_config",
    "gcp:logging/projectSink:ProjectSink": "google_logging_project_sink",
    "gcp:monitoring/alertPolicy:AlertPolicy": "google_monitoring_alert_policy",
    "gcp:monitoring/notificationChannel:NotificationChannel": (
        "google_monitoring_notification_channel"
    ),
    "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig": "google_monitoring_uptime_check_config",
    "gcp:projects/iAMBinding:IAMBinding": "google_project_iam_binding",
    "gcp:projects/iAMMember:IAMMember": "google_project_iam_member",
    "gcp:projects/service:Service": "google_project_service",
    "gcp:secretmanager/secret:Secret": "google_secret_manager_secret",
    "gcp:secretmanager/secretIamMember:SecretIamMember": "google_secret_manager_secret_iam_member",
    "gcp:secretmanager/secretVersion:SecretVersion": "google_secret_manager_secret_version",
    "gcp:serviceaccount/account:Account": "google_service_account",
    "gcp:serviceaccount/iAMMember:IAMMember": "google_service_account_iam_member",
    "gcp:serviceaccount/key:Key": "google_service_account_key",
    "gcp:servicenetworking/connection:Connection": "google_service_networking_connection",
    "gcp:sql/database:Database": "google_sql_database",
    "gcp:sql/databaseInstance:DatabaseInstance": "google_sql_database_instance",
    "gcp:sql/user:User": "google_sql_user",
    "gcp:storage/bucket:Bucket": "google_storage_bucket",
    "gcp:storage/bucketIAMBinding:BucketIAMBinding": "google_storage_bucket_iam_binding",
    "gcp:storage/bucketIAMMember:BucketIAMMember": "google_storage_bucket_iam_member",
    "gcp:vpcaccess/connector:Connector": "google_vpc_access_connector",
}

# Repeatable Terraform blocks whose Pulumi name is pluralised (the bridge names a block with
# more than one allowed item in the plural); applied only where the value is a list of objects.
BLOCK_NAMES: dict[str, str] = {
    "actions": "action",
    "aliases": "alias",
    "conditions": "condition",
    "copyActions": "copy_action",
    "corsRules": "cors_rule",
    "customResponseBodies": "custom_response_body",
    "defaultActions": "default_action",
    "encryptionConfigurations": "encryption_configuration",
    "loadBalancers": "load_balancer",
    "parameters": "parameter",
    "recoveryMechanisms": "recovery_mechanism",
    "routes": "route",
    "ruleActionOverrides": "rule_action_override",
    "rules": "rule",
    "schemas": "schema",
    "selectionTags": "selection_tag",
    "settings": "setting",
    "stepAdjustments": "step_adjustment",
    "volumes": "volume",
}

# pulumi-gcp's pluralised repeatable blocks (`allow` -> `allows`, `backend` -> `backends`);
# Terraform names that are plural already (`database_flags`, `containers`) need no entry.
GOOGLE_BLOCK_NAMES: dict[str, str] = {
    "allows": "allow",
    "backends": "backend",
    "denies": "deny",
    "envs": "env",
    "lifecycleRules": "lifecycle_rule",
    "logConfigs": "log_config",
    "pathMatchers": "path_matcher",
    "hostRules": "host_rule",
    "pathRules": "path_rule",
    "rules": "rule",
    "secondaryIpRanges": "secondary_ip_range",
}

# Where each provider's resources go: (type table, block names, provider_name, config key).
PROVIDERS: dict[str, tuple[dict[str, str], dict[str, str], str, str]] = {
    "aws": (TERRAFORM_TYPES, BLOCK_NAMES, PROVIDER_NAME, "aws"),
    "gcp": (GOOGLE_TERRAFORM_TYPES, GOOGLE_BLOCK_NAMES, GOOGLE_PROVIDER_NAME, "google"),
}

# Terraform map arguments: their keys are data (tag names), not argument names.
MAP_ARGUMENTS = frozenset(
    {"tags", "tagsAll", "recoveryPointTags", "labels", "annotations", "userLabels"}
)

# How the Pulumi SDK marks a secret in serialized inputs (pulumi.runtime.rpc._special_sig_key).
_SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"  # noqa: S105 (a marker, not a secret)
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_IDENTIFIER = re.compile(r"[^A-Za-z0-9_]")


class ExportError(ValueError):
    """The recording holds something the export cannot translate faithfully."""


def snake_case(name: str) -> str:
    """`kmsMasterKeyId` -> `kms_master_key_id`, `cidrIpv4` -> `cidr_ipv4`, `XContent` ->
    `x_content`."""
    return _CAMEL_BOUNDARY.sub("_", name).lower()


def terraform_name(pulumi_name: str) -> str:
    """A Terraform resource name (an identifier) for a Pulumi logical name."""
    name = _NOT_IDENTIFIER.sub("_", pulumi_name)
    return name if name[:1].isalpha() or name[:1] == "_" else f"r_{name}"


def _is_secret(value: Any) -> bool:
    if isinstance(value, Mapping) and _SECRET_SIGNATURE in value:
        return True
    return isinstance(value, str) and SECRET_PLACEHOLDER in value


def _number(value: float) -> float | int:
    return int(value) if value.is_integer() else value


@dataclass(frozen=True)
class Target:
    """A resource another one can refer to, by the values the program read from it."""

    address: str
    attributes: dict[str, str]  # a value it exposes -> the Terraform attribute that holds it


@dataclass
class _Converted:
    values: Any  # None: unknown at plan time, or nothing to write
    expressions: Any = None  # None: no reference inside
    unknown: Any = None  # None: fully known


@dataclass
class _Block:
    values: dict[str, Any] = field(default_factory=dict)
    expressions: dict[str, Any] = field(default_factory=dict)
    unknown: dict[str, Any] = field(default_factory=dict)
    sensitive: list[str] = field(default_factory=list)


@dataclass
class PlanResource:
    """One managed resource, in the three places a Terraform plan mentions it."""

    address: str
    type: str
    name: str
    block: _Block
    provider: str = "aws"  # a key of PROVIDERS

    @property
    def values(self) -> dict[str, Any]:
        return self.block.values

    @property
    def expressions(self) -> dict[str, Any]:
        return self.block.expressions

    def _header(self) -> dict[str, Any]:
        return {"address": self.address, "mode": "managed", "type": self.type, "name": self.name}

    def planned(self) -> dict[str, Any]:
        return {
            **self._header(),
            "provider_name": PROVIDERS[self.provider][2],
            "schema_version": 0,
            "values": self.block.values,
            "sensitive_values": {key: True for key in self.block.sensitive},
        }

    def configured(self) -> dict[str, Any]:
        return {
            **self._header(),
            "provider_config_key": PROVIDERS[self.provider][3],
            "expressions": self.block.expressions,
            "schema_version": 0,
        }

    def change(self) -> dict[str, Any]:
        return {
            **self._header(),
            "provider_name": PROVIDERS[self.provider][2],
            "change": {
                "actions": ["create"],
                "before": None,
                "after": self.block.values,
                "after_unknown": self.block.unknown,
                "before_sensitive": False,
                "after_sensitive": {key: True for key in self.block.sensitive},
            },
        }


def argument_name(key: str, value: Any, block_names: Mapping[str, str] = BLOCK_NAMES) -> str:
    """The Terraform name of a Pulumi input (`corsRules` holding objects -> `cors_rule`)."""
    if isinstance(value, list) and value and isinstance(value[0], Mapping) and key in block_names:
        return block_names[key]
    return snake_case(key)


class _Converter:
    """Pulumi input values -> Terraform values, a value read from a target becoming a reference."""

    def __init__(
        self, targets: Sequence[Target] = (), block_names: Mapping[str, str] = BLOCK_NAMES
    ) -> None:
        self.targets = targets
        self.block_names = block_names

    def reference(self, value: str) -> list[str] | None:
        for target in self.targets:
            attribute = target.attributes.get(value)
            if attribute:
                return [f"{target.address}.{attribute}", target.address]
        return None

    def convert(self, value: Any, *, as_map: bool = False) -> _Converted:
        if isinstance(value, str):
            references = self.reference(value)
            if references:
                return _Converted(values=None, expressions={"references": references}, unknown=True)
            return _Converted(values=value)
        if isinstance(value, float):
            return _Converted(values=_number(value))
        if value is None or isinstance(value, (bool, int)):
            return _Converted(values=value)
        if isinstance(value, Mapping):
            if as_map:
                # An entry read from another resource is unknown: left out of the map.
                entries = {str(k): self.convert(v) for k, v in value.items()}
                return _Converted(
                    values={k: c.values for k, c in entries.items() if c.values is not None},
                    unknown={k: True for k, c in entries.items() if c.unknown} or None,
                )
            # A nested object is a block: Terraform's JSON holds blocks in lists.
            return self.sequence([value])
        if isinstance(value, (list, tuple)):
            return self.sequence(value)
        raise ExportError(f"cannot export a value of type {type(value).__name__}: {value!r}")

    def sequence(self, items: Sequence[Any]) -> _Converted:
        if items and all(isinstance(item, Mapping) for item in items):
            blocks = [convert_block(item, lambda _key: self, self.block_names) for item in items]
            has_expressions = any(b.expressions for b in blocks)
            has_unknown = any(b.unknown for b in blocks)
            return _Converted(
                values=[b.values for b in blocks],
                expressions=[b.expressions for b in blocks] if has_expressions else None,
                unknown=[b.unknown for b in blocks] if has_unknown else None,
            )
        converted = [self.convert(item) for item in items]
        references = [r for c in converted for r in (c.expressions or {}).get("references", [])]
        if references:
            # Terraform plans a list built from unknown values as unknown as a whole.
            return _Converted(values=None, expressions={"references": references}, unknown=True)
        return _Converted(values=[c.values for c in converted])


def convert_block(
    inputs: Mapping[str, Any],
    converter_for: Callable[[str], _Converter],
    block_names: Mapping[str, str] = BLOCK_NAMES,
) -> _Block:
    """One object of Pulumi inputs as Terraform arguments; secrets left out, marked sensitive."""
    block = _Block()
    for key, value in inputs.items():
        name = argument_name(key, value, block_names)
        if _is_secret(value):
            block.sensitive.append(name)
            block.unknown[name] = True
            continue
        converted = converter_for(key).convert(value, as_map=key in MAP_ARGUMENTS)
        if converted.values is not None:
            block.values[name] = converted.values
        if converted.expressions is not None:
            block.expressions[name] = converted.expressions
        if converted.unknown is not None:
            block.unknown[name] = converted.unknown
    block.sensitive.sort()
    return block


def _target(resource: RecordedResource, address: str) -> Target:
    """What the program can have read from `resource`: its id and its string outputs."""
    attributes: dict[str, str] = {}
    for key, value in resource.outputs.items():
        if isinstance(value, str) and len(value) >= 3 and not _is_secret(value):
            attributes.setdefault(value, snake_case(key))
    attributes[resource.id] = "id"
    return Target(address=address, attributes=attributes)


def _key(resource: RecordedResource) -> str:
    return resource.urn or resource.urn_name


def _provider(resource: RecordedResource) -> str:
    return resource.type.split(":", 1)[0]


def _terraform_type(resource: RecordedResource) -> str:
    return PROVIDERS[_provider(resource)][0][resource.type]


def exported_resources(recording: Recording) -> list[PlanResource]:
    """The recording's AWS and Google Cloud resources as Terraform plan resources, references by
    address."""
    aws = [r for r in recording.resources if r.custom and _provider(r) in PROVIDERS]
    unmapped = sorted({r.type for r in aws if r.type not in PROVIDERS[_provider(r)][0]})
    if unmapped:
        table = {"aws": "TERRAFORM_TYPES", "gcp": "GOOGLE_TERRAFORM_TYPES"}
        where = sorted({table[t.split(":", 1)[0]] for t in unmapped})
        raise ExportError(
            f"no Terraform type for {', '.join(unmapped)}: add it to {' / '.join(where)} "
            "in ops/checkov_export.py"
        )
    addresses: dict[str, str] = {}
    for resource in aws:
        address = f"{_terraform_type(resource)}.{terraform_name(resource.name)}"
        if address in addresses.values():
            raise ExportError(f"two resources export to {address}; rename one of them")
        addresses[_key(resource)] = address
    by_key = {_key(r): r for r in aws}

    def converter_for(resource: RecordedResource) -> Callable[[str], _Converter]:
        def for_input(input_name: str) -> _Converter:
            dependencies = resource.property_dependencies.get(input_name, ())
            return _Converter(
                [
                    _target(by_key[urn], addresses[urn])
                    for urn in dependencies
                    if urn in by_key and urn != _key(resource)
                ],
                PROVIDERS[_provider(resource)][1],
            )

        return for_input

    return [
        PlanResource(
            address=addresses[_key(resource)],
            type=_terraform_type(resource),
            name=addresses[_key(resource)].split(".", 1)[1],
            block=convert_block(
                resource.inputs, converter_for(resource), PROVIDERS[_provider(resource)][1]
            ),
            provider=_provider(resource),
        )
        for resource in aws
    ]


def terraform_plan(
    recording: Recording, region: str, google: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The recording as the document `terraform show -json <plan>` prints; `google` holds the
    Google provider's settings (project, region) when the stack has Google Cloud resources."""
    resources = exported_resources(recording)
    providers: dict[str, Any] = {
        "aws": {
            "name": "aws",
            "full_name": PROVIDER_NAME,
            "expressions": {"region": {"constant_value": region}},
        }
    }
    if any(r.provider == "gcp" for r in resources):
        providers["google"] = {
            "name": "google",
            "full_name": GOOGLE_PROVIDER_NAME,
            "expressions": {
                key: {"constant_value": value} for key, value in sorted((google or {}).items())
            },
        }
    return {
        "format_version": "1.2",
        "terraform_version": TERRAFORM_VERSION,
        "planned_values": {"root_module": {"resources": [r.planned() for r in resources]}},
        "resource_changes": [r.change() for r in resources],
        "configuration": {
            "provider_config": providers,
            "root_module": {"resources": [r.configured() for r in resources]},
        },
    }


def export(stack: str, output: Path | None = None) -> Path:
    """Run the program for `stack` offline and write its Terraform-shaped plan; return the path."""
    config, _ = stack_config(stack)
    google = {
        key.split(":", 1)[1]: str(config[key])
        for key in ("gcp:project", "gcp:region")
        if config.get(key) is not None
    }
    document = terraform_plan(record(stack), config.get("aws:region", "us-east-1"), google)
    path = output or DEFAULT_OUTPUT_DIR / f"{stack}.tfplan.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ops.checkov_export", description=__doc__.split("\n")[0]
    )
    parser.add_argument("stack", help="stack name (dev, prod)")
    parser.add_argument("-o", "--output", type=Path, help="where to write the plan JSON")
    args = parser.parse_args(argv)
    try:
        path = export(args.stack, args.output)
    except ExportError as error:
        print(f"checkov export failed: {error}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
