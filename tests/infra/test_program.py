"""The whole program under mocks, for dev and prod, from the real stack files.

Cross-cutting properties: what is reachable from where, that everything is encrypted and
retained, least-privilege IAM, that prod keeps its protections and dev drops only cost, and
that the components are wired to each other (not merely created).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.settings import SettingsError
from ops.offline import ACCOUNT_ID, RecordedResource, Recording, default_invokes, run_program
from tests.infra.policy_helpers import as_list, by_sid, statements

DATADOG_API_KEY = "dd-api-key-value-never-in-plain-state"
PROD_SECRETS = {"datadogApiKey": DATADOG_API_KEY, "datadogAppKey": "dd-app-key-value"}
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
# How the engine marks a secret value (pulumi.runtime.rpc).
SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_VALUE_SIG = "1b47061264138c4ac30d75fd1eb44270"
# Actions AWS offers no resource-level permission for.
ANY_RESOURCE_ALLOWED = {"ecr:GetAuthorizationToken"}
METADATA_SERVICES = {"cloudwatch", "ec2", "ecs", "elasticloadbalancing", "rds", "tag"}


def _metadata_read(action: str) -> bool:
    """Read-only describe/list/get of infrastructure metadata (e.g. Datadog's integration)."""
    service, _, verb = action.partition(":")
    if verb.startswith("Get"):
        return service in {"cloudwatch", "tag"}  # not e.g. ec2:GetPasswordData
    return service in METADATA_SERVICES and verb.startswith(("Describe", "List"))


SG = "aws:ec2/securityGroup:SecurityGroup"


@pytest.fixture(scope="module")
def dev() -> Recording:
    return run_program("dev")


@pytest.fixture(scope="module")
def prod() -> Recording:
    return run_program("prod", PROD_SECRETS)


@pytest.fixture(params=["dev", "prod"])
def stack(request: pytest.FixtureRequest) -> Recording:
    recording: Recording = request.getfixturevalue(request.param)
    return recording


def sg_id(recording: Recording, suffix: str) -> str:
    return recording.one(SG, f"network-{suffix}-sg").id


def policy_documents(recording: Recording) -> list[tuple[RecordedResource, dict[str, Any]]]:
    found = []
    for resource in recording:
        for key in ("policy", "assumeRolePolicy"):
            value = resource.inputs.get(key)
            if isinstance(value, str) and '"Statement"' in value:
                found.append((resource, json.loads(value)))
    return found


def container(recording: Recording, name: str) -> dict[str, Any]:
    task = recording.one("aws:ecs/taskDefinition:TaskDefinition", "api-task")
    (found,) = [c for c in json.loads(task.inputs["containerDefinitions"]) if c["name"] == name]
    return found


# --- the program runs, answers every invoke and exports what the app needs


def test_every_invoke_is_answered_by_the_default_mocks(stack: Recording) -> None:
    answered = set(default_invokes("us-east-1"))
    assert {token for token, _ in stack.invokes} <= answered


@pytest.mark.parametrize(
    ("name", "domain"), [("dev", "api.dev.example.com"), ("prod", "api.example.com")]
)
def test_outputs(name: str, domain: str, request: pytest.FixtureRequest) -> None:
    recording: Recording = request.getfixturevalue(name)
    outputs = recording.outputs
    assert outputs["api_url"] == f"https://{domain}"
    assert outputs["heartbeat_url"] == f"https://{domain}/heartbeat"
    assert outputs["docs_url"] == f"https://{domain}/docs"
    assert (
        outputs["bucket_name"] == recording.one("aws:s3/bucket:Bucket", "media").outputs["bucket"]
    )
    assert (
        outputs["database_endpoint"]
        == recording.one("aws:rds/instance:Instance").outputs["endpoint"]
    )
    assert outputs["user_pool_id"] == recording.one("aws:cognito/userPool:UserPool").id
    mobile = recording.one("aws:cognito/userPoolClient:UserPoolClient", "auth-mobile")
    assert outputs["app_client_id"] == mobile.id
    assert outputs["issuer"].startswith("https://cognito-idp.us-east-1.amazonaws.com/")
    assert outputs["jwks_url"] == f"{outputs['issuer']}/.well-known/jwks.json"
    # The names ops/backups reads to verify and drill restores.
    assert (
        outputs["db_instance_identifier"]
        == recording.one("aws:rds/instance:Instance").inputs["identifier"]
    )
    assert outputs["backup_vault_name"] == recording.named("backups-vault").inputs["name"]
    assert outputs["backup_copy_vault_name"] == recording.named("backups-copy-vault").inputs["name"]
    assert outputs["backup_copy_vault_arn"] == recording.named("backups-copy-vault").outputs["arn"]
    assert (outputs["region"], outputs["backup_copy_region"]) == ("us-east-1", "us-west-2")


def test_composition_only_every_resource_belongs_to_a_component(stack: Recording) -> None:
    top_level = [r for r in stack if r.parent is None]
    assert top_level and all(not r.custom for r in top_level)
    assert all(r.type.startswith("awaterra:") for r in top_level)


def test_children_are_named_after_their_component(stack: Recording) -> None:
    for resource in stack:
        if resource.parent is not None:
            parent_name = resource.parent.split("::")[-1]
            assert resource.name.startswith(f"{parent_name}-"), (resource.name, parent_name)


# --- who may reach what


def internet_ports(recording: Recording) -> list[tuple[int, int, str]]:
    """(from port, to port, security group id) of every rule open to the internet, sorted."""
    return sorted(
        (int(rule.inputs["fromPort"]), int(rule.inputs["toPort"]), rule.inputs["securityGroupId"])
        for rule in recording.of_type(INGRESS)
        if rule.inputs.get("cidrIpv4") or rule.inputs.get("cidrIpv6")
    )


def test_only_the_load_balancer_is_open_to_the_internet_and_only_on_443(
    stack: Recording,
) -> None:
    assert internet_ports(stack) == [(443, 443, sg_id(stack, "lb"))]
    alb = stack.one("aws:lb/loadBalancer:LoadBalancer").inputs
    assert alb["securityGroups"] == [sg_id(stack, "lb")]
    assert alb["internal"] is False


def test_tasks_and_database_sit_behind_their_security_groups(stack: Recording) -> None:
    network = stack.one("aws:ecs/service:Service").inputs["networkConfiguration"]
    assert network["securityGroups"] == [sg_id(stack, "service")]
    database = stack.one("aws:rds/instance:Instance").inputs
    assert database["vpcSecurityGroupIds"] == [sg_id(stack, "db")]
    assert database["publiclyAccessible"] is False
    private = {
        s.id
        for s in stack.of_type("aws:ec2/subnet:Subnet")
        if s.inputs["tags"]["tier"] == "private"
    }
    assert set(stack.one("aws:rds/subnetGroup:SubnetGroup").inputs["subnetIds"]) == private


def test_dev_trades_nat_for_public_ips_prod_keeps_tasks_private(
    dev: Recording, prod: Recording
) -> None:
    subnets = {r.id: r.inputs["tags"]["tier"] for r in dev.of_type("aws:ec2/subnet:Subnet")}
    dev_network = dev.one("aws:ecs/service:Service").inputs["networkConfiguration"]
    assert dev_network["assignPublicIp"] is True
    assert {subnets[s] for s in dev_network["subnets"]} == {"public"}
    assert dev.of_type("aws:ec2/natGateway:NatGateway") == []
    subnets = {r.id: r.inputs["tags"]["tier"] for r in prod.of_type("aws:ec2/subnet:Subnet")}
    prod_network = prod.one("aws:ecs/service:Service").inputs["networkConfiguration"]
    assert prod_network["assignPublicIp"] is False
    assert {subnets[s] for s in prod_network["subnets"]} == {"private"}
    assert len(prod_network["subnets"]) == 3
    assert len(prod.of_type("aws:ec2/natGateway:NatGateway")) == 3


def test_https_only_with_tls_13_and_no_port_80(stack: Recording) -> None:
    listeners = {int(r.inputs["port"]): r.inputs for r in stack.of_type("aws:lb/listener:Listener")}
    assert set(listeners) == {443}
    assert listeners[443]["protocol"] == "HTTPS"
    assert listeners[443]["sslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    assert (
        listeners[443]["certificateArn"]
        == stack.one("aws:acm/certificateValidation:CertificateValidation").outputs[
            "certificateArn"
        ]
    )


def test_http_redirect_opt_in_adds_port_80_that_only_redirects_to_https() -> None:
    recording = run_program("dev", {"httpRedirect": "true"})
    lb = sg_id(recording, "lb")
    assert internet_ports(recording) == [(80, 80, lb), (443, 443, lb)]
    listeners = {
        int(r.inputs["port"]): r.inputs for r in recording.of_type("aws:lb/listener:Listener")
    }
    assert set(listeners) == {80, 443}
    assert listeners[80]["protocol"] == "HTTP"
    assert listeners[80]["defaultActions"] == [
        {"type": "redirect",
         "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}
    ]  # fmt: skip


def test_dns_points_the_domain_at_the_load_balancer(stack: Recording) -> None:
    alb = stack.one("aws:lb/loadBalancer:LoadBalancer").outputs
    aliases = [r for r in stack.of_type("aws:route53/record:Record") if r.inputs.get("aliases")]
    assert [r.inputs["type"] for r in aliases] == ["A"]
    (record,) = aliases
    assert record.inputs["name"] == stack.outputs["api_url"].removeprefix("https://")
    assert record.inputs["zoneId"] == "Z0000000000000EXAMPLE"
    (alias,) = record.inputs["aliases"]
    assert alias["name"] == alb["dnsName"] and alias["zoneId"] == alb["zoneId"]


def test_waf_guards_the_load_balancer_in_prod_only(dev: Recording, prod: Recording) -> None:
    association = prod.one("aws:wafv2/webAclAssociation:WebAclAssociation").inputs
    assert association["resourceArn"] == prod.one("aws:lb/loadBalancer:LoadBalancer").outputs["arn"]
    assert dev.of_type("aws:wafv2/webAcl:WebAcl") == []


# --- the service is wired to the real resources


def test_service_environment_points_at_this_stacks_resources(stack: Recording) -> None:
    app = container(stack, "app")
    environment = {e["name"]: e["value"] for e in app["environment"]}
    database = stack.one("aws:rds/instance:Instance")
    assert environment["DB_HOST"] == database.outputs["address"]
    assert environment["DB_NAME"] == database.inputs["dbName"]
    assert environment["STORAGE_URL"] == f"s3://{stack.outputs['bucket_name']}"
    assert environment["AUTH_ISSUER"] == stack.outputs["issuer"]
    assert environment["AUTH_AUDIENCE"] == stack.outputs["app_client_id"]
    assert environment["ENVIRONMENT"] == stack.stack
    # The pool size the connection budget counts on.
    assert environment["DB_POOL_SIZE"] == ("5" if stack.stack == "dev" else "10")
    secret_arn = database.outputs["masterUserSecrets"][0]["secretArn"]
    session_key = stack.one("aws:secretsmanager/secret:Secret", "admin-session-key")
    # The service signs in as its own user with IAM tokens: no database secret reaches it.
    assert (environment["DB_USER"], environment["DB_IAM_AUTH"]) == ("awaterra_app", "aws")
    assert {s["name"]: s["valueFrom"] for s in app["secrets"]} == {
        # The admin panel's session key (tests/infra/test_admin_panel.py).
        "ADMIN_SESSION_KEY": session_key.outputs["arn"],
    }
    migrate = container(stack, "migrate")
    assert {s["name"]: s["valueFrom"] for s in migrate["secrets"]} == {
        "DB_USER": f"{secret_arn}:username::",
        "DB_PASSWORD": f"{secret_arn}:password::",
    }
    # The task role may sign in as that user of this instance, and as no other.
    task_policy = json.loads(stack.one("aws:iam/rolePolicy:RolePolicy", "api-task-permissions")
                             .inputs["policy"])  # fmt: skip
    (sign_in,) = [s for s in task_policy["Statement"] if s["Sid"] == "SignInToDatabase"]
    assert sign_in["Action"] == ["rds-db:connect"]
    assert sign_in["Resource"] == [
        f"arn:aws:rds-db:{stack.config['aws:region']}:{ACCOUNT_ID}:dbuser:"
        f"{database.outputs['resourceId']}/awaterra_app"
    ]


def test_task_role_reaches_only_its_bucket_and_key(stack: Recording) -> None:
    policy = stack.one("aws:iam/rolePolicy:RolePolicy", "api-task")
    bucket_arn = stack.one("aws:s3/bucket:Bucket", "media").outputs["arn"]
    media_key = stack.one("aws:kms/key:Key", "media-key").outputs["arn"]
    database = stack.one("aws:rds/instance:Instance").outputs["resourceId"]
    db_user = (
        f"arn:aws:rds-db:{stack.config['aws:region']}:{ACCOUNT_ID}:dbuser:{database}/awaterra_app"
    )
    resources = {r for s in statements(policy) for r in as_list(s["Resource"])}
    assert resources == {bucket_arn, f"{bucket_arn}/*", media_key, db_user}


# --- encryption, retention, least privilege


def test_every_kms_key_rotates(stack: Recording) -> None:
    keys = stack.of_type("aws:kms/key:Key")
    assert keys and all(k.inputs["enableKeyRotation"] is True for k in keys)


def test_every_bucket_is_private_encrypted_versioned_and_tls_only(stack: Recording) -> None:
    buckets = stack.of_type("aws:s3/bucket:Bucket")
    for bucket in buckets:

        def one(token: str, bucket_id: str = bucket.id) -> dict[str, Any]:
            (found,) = [r.inputs for r in stack.of_type(token) if r.inputs["bucket"] == bucket_id]
            return found

        block = one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
        assert all(
            block[k]
            for k in (
                "blockPublicAcls",
                "blockPublicPolicy",
                "ignorePublicAcls",
                "restrictPublicBuckets",
            )
        )
        assert (
            one("aws:s3/bucketOwnershipControls:BucketOwnershipControls")["rule"]["objectOwnership"]
            == "BucketOwnerEnforced"
        )
        assert (
            one("aws:s3/bucketVersioning:BucketVersioning")["versioningConfiguration"]["status"]
            == "Enabled"
        )
        (rule,) = one(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
        )["rules"]
        assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] in ("aws:kms", "AES256")
        (policy,) = [
            r
            for r in stack.of_type("aws:s3/bucketPolicy:BucketPolicy")
            if r.inputs["bucket"] == bucket.id
        ]
        assert by_sid(policy, "DenyInsecureTransport")["Condition"] == {
            "Bool": {"aws:SecureTransport": "false"}
        }


def test_every_log_group_has_retention(stack: Recording) -> None:
    groups = stack.of_type("aws:cloudwatch/logGroup:LogGroup")
    # prod keeps a year online (checkov CKV_AWS_338); dev's 14 days is its documented exception.
    expected = 14 if stack.stack == "dev" else 365
    assert groups and all(g.inputs["retentionInDays"] == expected for g in groups)
    for group in groups:
        key = group.inputs["kmsKeyId"]
        (owner,) = [k for k in stack.of_type("aws:kms/key:Key") if k.outputs["arn"] == key]
        assert owner.inputs["enableKeyRotation"] is True, group.name


def test_no_iam_statement_allows_every_action(stack: Recording) -> None:
    for resource, document in policy_documents(stack):
        if resource.type == "aws:kms/key:Key":
            continue  # key policies: "Resource": "*" means this key; admin is the account root
        for statement in as_list(document["Statement"]):
            if statement["Effect"] != "Allow":
                continue
            for action in as_list(statement["Action"]):
                assert action != "*" and not action.endswith(":*"), (resource.name, action)
            if as_list(statement.get("Resource", [])) == ["*"]:
                for action in as_list(statement["Action"]):
                    assert action in ANY_RESOURCE_ALLOWED or _metadata_read(action), (
                        resource.name,
                        action,
                    )


def test_roles_are_assumable_only_by_their_service_or_with_an_external_id(
    stack: Recording,
) -> None:
    for role in stack.of_type("aws:iam/role:Role"):
        for statement in statements(role, "assumeRolePolicy"):
            assert statement["Action"] == "sts:AssumeRole"
            if set(statement["Principal"]) == {"Service"}:
                continue
            # A third party (Datadog's AWS account) must present this stack's external id.
            assert set(statement["Principal"]) == {"AWS"}, role.name
            assert "sts:ExternalId" in statement["Condition"]["StringEquals"], role.name


def plain_strings(value: Any) -> list[str]:
    """Every string in `value` that is not wrapped as a Pulumi secret."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_VALUE_SIG:
            return []
        return [s for item in value.values() for s in plain_strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in plain_strings(item)]
    return [value] if isinstance(value, str) else []


def test_secrets_reach_resources_only_as_pulumi_secrets(prod: Recording) -> None:
    holders = []
    for resource in prod:
        plain = " ".join(plain_strings(resource.inputs))
        assert DATADOG_API_KEY not in plain, resource.name
        assert "dd-app-key-value" not in plain, resource.name
        if DATADOG_API_KEY in json.dumps(resource.inputs):
            holders.append(resource.type)
    # Stored once in Secrets Manager (for the task) and given to the Datadog provider.
    assert sorted(holders) == [
        "aws:secretsmanager/secretVersion:SecretVersion",
        "pulumi:providers:datadog",
    ]
    keys = {key for resource in prod for key in resource.inputs}
    assert not {"password", "masterPassword"} & keys


# --- prod protections, dev economies


def test_prod_database_is_protected_dev_is_disposable(dev: Recording, prod: Recording) -> None:
    protected = prod.one("aws:rds/instance:Instance").inputs
    assert protected["multiAz"] is True and protected["deletionProtection"] is True
    assert protected["backupRetentionPeriod"] >= 14
    assert protected["skipFinalSnapshot"] is False and protected["finalSnapshotIdentifier"]
    assert protected["instanceClass"] == "db.m7g.large"
    disposable = dev.one("aws:rds/instance:Instance").inputs
    assert disposable["multiAz"] is False and disposable["deletionProtection"] is False
    assert disposable["skipFinalSnapshot"] is True
    for inputs in (protected, disposable):
        assert inputs["storageEncrypted"] and inputs["manageMasterUserPassword"]


def test_prod_keeps_more_tasks_and_logs(dev: Recording, prod: Recording) -> None:
    prod_target = prod.one("aws:appautoscaling/target:Target").inputs
    assert prod_target["minCapacity"] >= 2
    assert prod.one("aws:ecs/service:Service").inputs["desiredCount"] >= 2
    assert dev.one("aws:appautoscaling/target:Target").inputs["minCapacity"] == 1
    alb = prod.one("aws:lb/loadBalancer:LoadBalancer").inputs
    assert alb["enableDeletionProtection"] is True
    assert alb["accessLogs"]["bucket"] == prod.one("aws:s3/bucket:Bucket", "logs").outputs["bucket"]
    logging = prod.one("aws:s3/bucketLogging:BucketLogging").inputs
    assert logging["targetBucket"] == prod.one("aws:s3/bucket:Bucket", "logs").outputs["bucket"]
    assert prod.one("aws:ec2/flowLog:FlowLog").inputs["trafficType"] == "ALL"
    assert dev.of_type("aws:ec2/flowLog:FlowLog") == []
    assert dev.of_type("aws:s3/bucketLogging:BucketLogging") == []


def test_alb_writes_logs_where_the_log_bucket_lets_it(prod: Recording) -> None:
    access_logs = prod.one("aws:lb/loadBalancer:LoadBalancer").inputs["accessLogs"]
    logs_bucket = prod.one("aws:s3/bucket:Bucket", "logs").outputs
    assert access_logs["enabled"] is True and access_logs["bucket"] == logs_bucket["bucket"]
    policy = prod.one("aws:s3/bucketPolicy:BucketPolicy", "logs")
    allowed = by_sid(policy, "LoadBalancerAccessLogs")["Resource"]
    assert allowed == f"{logs_bucket['arn']}/{access_logs['prefix']}/AWSLogs/123456789012/*"


def test_force_destroy_only_in_dev(dev: Recording, prod: Recording) -> None:
    assert all(b.inputs["forceDestroy"] is False for b in prod.of_type("aws:s3/bucket:Bucket"))
    assert dev.one("aws:s3/bucket:Bucket", "media").inputs["forceDestroy"] is True


def test_backups_cover_database_and_bucket_and_leave_the_region(stack: Recording) -> None:
    selection = stack.one("aws:backup/selection:Selection").inputs
    assert set(selection["resources"]) == {
        stack.one("aws:rds/instance:Instance").outputs["arn"],
        stack.one("aws:s3/bucket:Bucket", "media").outputs["arn"],
    }
    (rule,) = stack.one("aws:backup/plan:Plan").inputs["rules"]
    assert rule["lifecycle"]["deleteAfter"] == (35 if stack.stack == "prod" else 7)
    (provider,) = stack.of_type("pulumi:providers:aws")
    assert provider.inputs["region"] == "us-west-2"
    tags = json.loads(provider.inputs["defaultTags"])["tags"]
    assert tags == {"project": "awaterra", "environment": stack.stack, "managed-by": "pulumi"}
    assert (
        rule["copyActions"][0]["destinationVaultArn"]
        == stack.named("backups-copy-vault").outputs["arn"]
    )
    locks = stack.of_type("aws:backup/vaultLockConfiguration:VaultLockConfiguration")
    assert len(locks) == (2 if stack.stack == "prod" else 0)


def test_datadog_ships_through_firelens_in_prod_only(dev: Recording, prod: Recording) -> None:
    task = prod.one("aws:ecs/taskDefinition:TaskDefinition", "api-task")
    names = {c["name"] for c in json.loads(task.inputs["containerDefinitions"])}
    assert {"app", "migrate", "datadog-agent", "log-router"} <= names
    secret_arn = prod.one("aws:secretsmanager/secret:Secret", "datadog-api-key").outputs["arn"]
    assert container(prod, "app")["logConfiguration"]["secretOptions"] == [
        {"name": "apikey", "valueFrom": secret_arn}
    ]
    app = container(prod, "app")
    environment = {e["name"]: e["value"] for e in app["environment"]}
    assert environment["DD_TRACE_ENABLED"] == "true" and environment["DD_ENV"] == "prod"
    assert {"containerName": "migrate", "condition": "SUCCESS"} in app["dependsOn"]
    assert {"containerName": "log-router", "condition": "START"} in app["dependsOn"]
    assert "com.datadoghq.ad.checks" in app["dockerLabels"]
    dev_environment = {e["name"]: e["value"] for e in container(dev, "app")["environment"]}
    assert dev_environment["DD_TRACE_ENABLED"] == "false"
    dev_task = dev.one("aws:ecs/taskDefinition:TaskDefinition", "api-task")
    dev_names = {c["name"] for c in json.loads(dev_task.inputs["containerDefinitions"])}
    assert dev_names == {"app", "migrate"}


def test_monitoring_watches_this_stack_in_prod_only(dev: Recording, prod: Recording) -> None:
    assert prod.outputs["dashboard_url"].startswith("https://app.datadoghq.com/dashboard/")
    for key in ("availability_slo_url", "latency_slo_url", "synthetic_url"):
        assert prod.outputs[key].startswith("https://app.datadoghq.com/")
    monitors = json.dumps([m.inputs for m in prod.of_type("datadog:index/monitor:Monitor")])
    assert "awaterra-prod-database" in monitors  # the real RDS identifier
    alb_suffix = prod.one("aws:lb/loadBalancer:LoadBalancer").outputs["arnSuffix"]
    assert alb_suffix in monitors
    (synthetic,) = prod.of_type("datadog:index/syntheticsTest:SyntheticsTest")
    assert prod.outputs["heartbeat_url"] in json.dumps(synthetic.inputs)
    assert not [r for r in dev if r.type.startswith(("datadog:", "pulumi:providers:datadog"))]
    # Every stack exports the same names (components/stack_outputs.py): None without Datadog.
    for key in ("dashboard_url", "availability_slo_url", "latency_slo_url", "synthetic_url"):
        assert dev.outputs[key] is None


# --- configuration errors stop the program before anything is created


def test_bad_stack_config_fails_naming_the_key() -> None:
    for stack, overrides, expected in (
        ("dev", {"domain": ""}, "awaterra:domain is required"),
        ("dev", {"dbInstanceClass": "postgres-large"}, "awaterra:dbInstanceClass must look like"),
        ("prod", {}, "awaterra:datadogApiKey is required"),
    ):
        with pytest.raises(SettingsError) as raised:
            run_program(stack, overrides)
        assert any(problem.startswith(expected) for problem in raised.value.problems), expected


def test_external_issuer_replaces_cognito() -> None:
    recording = run_program(
        "dev",
        {
            "authMode": "external",
            "authIssuer": "https://securetoken.google.com/awaterra-app",
            "authJwksUrl": "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com",
            "authAudience": "awaterra-app",
        },
    )
    assert recording.of_type("aws:cognito/userPool:UserPool") == []
    environment = {e["name"]: e["value"] for e in container(recording, "app")["environment"]}
    assert environment["AUTH_ISSUER"] == "https://securetoken.google.com/awaterra-app"
    assert environment["AUTH_AUDIENCE"] == "awaterra-app"
    assert recording.outputs["issuer"] == "https://securetoken.google.com/awaterra-app"


def test_the_image_carries_the_tracer_only_where_an_agent_receives_traces(
    dev: Recording, prod: Recording
) -> None:
    # prod ships through FireLens + the agent: ddtrace goes into the image; dev ships nothing.
    (prod_image,) = prod.of_type("docker:index/image:Image")
    (dev_image,) = dev.of_type("docker:index/image:Image")
    assert prod_image.inputs["build"].get("args") == {"SERVICE_EXTRAS": "datadog"}
    assert not dev_image.inputs["build"].get("args")
    assert container(prod, "app")["environment"] and any(
        e == {"name": "DD_TRACE_ENABLED", "value": "true"}
        for e in container(prod, "app")["environment"]
    )
