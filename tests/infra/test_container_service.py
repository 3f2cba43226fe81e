"""ContainerService under mocks: who may reach what, how it deploys, scales and migrates."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pulumi
import pytest

from components.aws.container_service import ContainerService, ContainerServiceArgs
from components.aws.load_balancer import listener_ports
from ops.offline import RecordedResource, Recording, run_program

ACCOUNT = "123456789012"
SECRET_ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:rds!db-abc-AbCdEf"
SECRET_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/db"
BUCKET_ARN = "arn:aws:s3:::awaterra-media"
BUCKET_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/media"
DATADOG_SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:datadog-api-key-XyZ"
CERT = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/abc"
DB_RESOURCE_ID = "db-ABCDEFGHIJKLMNOPQRSTUVWXY1"
DB_USER_ARN = f"arn:aws:rds-db:us-east-1:{ACCOUNT}:dbuser:{DB_RESOURCE_ID}/awaterra_app"

ARGS = ContainerServiceArgs(
    environment="prod",
    vpc_id="vpc-1",
    public_subnet_ids=["subnet-pub-a", "subnet-pub-b"],
    service_subnet_ids=["subnet-priv-a", "subnet-priv-b"],
    assign_public_ip=False,
    lb_security_group_id="sg-lb",
    service_security_group_id="sg-service",
    certificate_arn=CERT,
    bucket_name="awaterra-media",
    bucket_arn=BUCKET_ARN,
    bucket_kms_key_arn=BUCKET_KEY,
    db_address="db.internal.example",
    db_port=5432,
    db_name="awaterra",
    db_master_secret_arn=SECRET_ARN,
    db_resource_id=DB_RESOURCE_ID,
    db_secret_kms_key_arn=SECRET_KEY,
    auth_issuer="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool",
    auth_jwks_url="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool/.well-known/jwks.json",
    auth_audience="client-123",
    access_logs_bucket="awaterra-logs",
    min_count=2,
    max_count=6,
)


def _run(args: ContainerServiceArgs = ARGS) -> Recording:
    def program() -> None:
        service = ContainerService("api", args)
        pulumi.export("image_ref", service.image_ref)
        pulumi.export("service_name", service.service_name)
        pulumi.export("dns_name", service.load_balancer_dns_name)

    return run_program(args.environment, program=program, use_stack_file=False)


@pytest.fixture(scope="module")
def recording() -> Recording:
    return _run()


def _service_task(recording: Recording) -> RecordedResource:
    definitions = recording.of_type("aws:ecs/taskDefinition:TaskDefinition")
    (task,) = [t for t in definitions if t.name == "api-task"]
    return task


def _containers(recording: Recording) -> dict[str, dict[str, Any]]:
    task = _service_task(recording)
    return {c["name"]: c for c in json.loads(task.inputs["containerDefinitions"])}


def _policy(recording: Recording, name: str) -> list[dict[str, Any]]:
    policy = recording.named(name)
    assert policy.type == "aws:iam/rolePolicy:RolePolicy"
    return json.loads(policy.inputs["policy"])["Statement"]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def _resources(statement: dict[str, Any]) -> list[str]:
    resource = statement["Resource"]
    return [resource] if isinstance(resource, str) else list(resource)


def _role_of(recording: Recording, policy_name: str) -> RecordedResource:
    role_id = recording.named(policy_name).inputs["role"]
    [role] = [r for r in recording.of_type("aws:iam/role:Role") if r.id == role_id]
    return role


# --- load balancer -------------------------------------------------------------------------


def test_load_balancer_is_public_hardened_and_logged(recording: Recording) -> None:
    alb = recording.one("aws:lb/loadBalancer:LoadBalancer").inputs
    assert alb["internal"] is False
    assert alb["subnets"] == ["subnet-pub-a", "subnet-pub-b"]
    assert alb["securityGroups"] == ["sg-lb"]
    assert alb["dropInvalidHeaderFields"] is True
    assert alb["desyncMitigationMode"] == "strictest"
    assert alb["enableDeletionProtection"] is True
    assert alb["accessLogs"] == {"bucket": "awaterra-logs", "prefix": "alb", "enabled": True}


def test_https_listener_uses_tls13_policy_and_the_validated_certificate(
    recording: Recording,
) -> None:
    https = recording.named("api-lb-https").inputs
    assert https["port"] == 443 and https["protocol"] == "HTTPS"
    assert https["sslPolicy"].startswith("ELBSecurityPolicy-TLS13-")
    assert https["certificateArn"] == CERT
    target_group = recording.one("aws:lb/targetGroup:TargetGroup")
    assert https["defaultActions"] == [
        {"type": "forward", "targetGroupArn": target_group.outputs["arn"]}
    ]
    assert https["routingHttpResponseStrictTransportSecurityHeaderValue"].startswith("max-age=")


def test_https_only_by_default_no_listener_on_port_80(recording: Recording) -> None:
    listeners = recording.of_type("aws:lb/listener:Listener")
    assert [(listener.inputs["port"], listener.inputs["protocol"]) for listener in listeners] == [
        (443, "HTTPS")
    ]
    assert not any(r.name == "api-lb-http" for r in recording)


def test_opting_in_adds_a_port_80_listener_that_only_redirects_permanently_to_https() -> None:
    recording = _run(replace(ARGS, http_redirect=True))
    http = recording.named("api-lb-http").inputs
    assert http["port"] == 80 and http["protocol"] == "HTTP"
    alb = recording.one("aws:lb/loadBalancer:LoadBalancer")
    assert http["loadBalancerArn"] == alb.outputs["arn"]
    assert http["defaultActions"] == [
        {"type": "redirect",
         "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}
    ]  # fmt: skip
    listeners = recording.of_type("aws:lb/listener:Listener")
    assert sorted(listener.inputs["port"] for listener in listeners) == [80, 443]


@pytest.mark.parametrize(("http_redirect", "ports"), [(False, (443,)), (True, (80, 443))])
def test_listener_ports_are_what_the_network_must_open(
    http_redirect: bool, ports: tuple[int, ...]
) -> None:
    assert listener_ports(http_redirect) == ports


def test_metrics_are_answered_404_at_the_load_balancer(recording: Recording) -> None:
    rule = recording.one("aws:lb/listenerRule:ListenerRule").inputs
    assert rule["listenerArn"] == recording.named("api-lb-https").outputs["arn"]
    assert rule["priority"] == 1
    [condition] = rule["conditions"]
    patterns = condition["pathPattern"]["values"]
    assert "/metrics*" in patterns
    [action] = rule["actions"]
    assert action["type"] == "fixed-response"
    assert action["fixedResponse"]["statusCode"] == "404"
    body = json.loads(action["fixedResponse"]["messageBody"])
    assert body["success"] is False and body["error"]["code"] == "not_found"


def test_target_group_checks_the_heartbeat(recording: Recording) -> None:
    target_group = recording.one("aws:lb/targetGroup:TargetGroup").inputs
    assert target_group["targetType"] == "ip"
    assert target_group["port"] == 8000
    assert target_group["healthCheck"]["path"] == "/heartbeat"
    assert target_group["healthCheck"]["matcher"] == "200"


def test_dev_may_opt_out_of_deletion_protection_and_access_logs() -> None:
    recording = _run(
        replace(ARGS, environment="dev", min_count=1, lb_deletion_protection=False,
                access_logs_bucket=None, assign_public_ip=True)
    )  # fmt: skip
    alb = recording.one("aws:lb/loadBalancer:LoadBalancer").inputs
    assert alb["enableDeletionProtection"] is False
    assert "accessLogs" not in alb
    service = recording.one("aws:ecs/service:Service").inputs
    assert service["networkConfiguration"]["assignPublicIp"] is True
    # Still only the load balancer's way in.
    assert service["networkConfiguration"]["securityGroups"] == ["sg-service"]


# --- service and deployment ----------------------------------------------------------------


def test_service_runs_in_the_service_subnets_behind_the_load_balancer(
    recording: Recording,
) -> None:
    service = recording.one("aws:ecs/service:Service").inputs
    assert service["launchType"] == "FARGATE"
    assert service["networkConfiguration"] == {
        "subnets": ["subnet-priv-a", "subnet-priv-b"],
        "securityGroups": ["sg-service"],
        "assignPublicIp": False,
    }
    [balancer] = service["loadBalancers"]
    assert balancer["containerName"] == "app" and balancer["containerPort"] == 8000
    target_group = recording.one("aws:lb/targetGroup:TargetGroup")
    assert balancer["targetGroupArn"] == target_group.outputs["arn"]
    assert service["enableExecuteCommand"] is False


def test_deployments_roll_back_and_never_drop_capacity(recording: Recording) -> None:
    service = recording.one("aws:ecs/service:Service").inputs
    assert service["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert service["deploymentMinimumHealthyPercent"] == 100
    assert service["deploymentMaximumPercent"] == 200
    assert service["healthCheckGracePeriodSeconds"] >= 30
    assert service["desiredCount"] == 2


def test_cluster_has_container_insights(recording: Recording) -> None:
    cluster = recording.one("aws:ecs/cluster:Cluster").inputs
    assert {"name": "containerInsights", "value": "enabled"} in cluster["settings"]


def test_autoscaling_tracks_cpu_and_requests_per_target(recording: Recording) -> None:
    target = recording.one("aws:appautoscaling/target:Target").inputs
    assert target["minCapacity"] == 2 and target["maxCapacity"] == 6
    assert target["scalableDimension"] == "ecs:service:DesiredCount"
    assert target["resourceId"] == "service/awaterra-prod-api/api-service"
    policies = {
        p.inputs["targetTrackingScalingPolicyConfiguration"]["predefinedMetricSpecification"][
            "predefinedMetricType"
        ]: p.inputs
        for p in recording.of_type("aws:appautoscaling/policy:Policy")
    }
    assert set(policies) == {"ECSServiceAverageCPUUtilization", "ALBRequestCountPerTarget"}
    for policy in policies.values():
        assert policy["policyType"] == "TargetTrackingScaling"
        assert policy["resourceId"] == target["resourceId"]
    requests = policies["ALBRequestCountPerTarget"]["targetTrackingScalingPolicyConfiguration"]
    alb = recording.one("aws:lb/loadBalancer:LoadBalancer").outputs["arnSuffix"]
    tg = recording.one("aws:lb/targetGroup:TargetGroup").outputs["arnSuffix"]
    assert requests["predefinedMetricSpecification"]["resourceLabel"] == f"{alb}/{tg}"
    cpu = policies["ECSServiceAverageCPUUtilization"]["targetTrackingScalingPolicyConfiguration"]
    assert cpu["targetValue"] == 60


def test_prod_refuses_a_single_task() -> None:
    with pytest.raises(ValueError, match="min_count must be >= 2 in prod"):
        replace(ARGS, min_count=1)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_count": 1}, "max_count"),
        ({"environment": "staging"}, "environment must be one of"),
        ({"log_retention_days": 10}, "log_retention_days"),
        ({"container_user": "root"}, "non-root"),
        ({"container_user": "0:0"}, "non-root"),
        ({"log_level": "verbose"}, "log_level"),
    ],
)
def test_bad_arguments_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(ARGS, **changes)  # type: ignore[arg-type]


# --- task definition -----------------------------------------------------------------------


def test_task_runs_the_image_by_digest(recording: Recording) -> None:
    containers = _containers(recording)
    image = recording.one("docker:index/image:Image")
    assert containers["app"]["image"] == image.outputs["repoDigest"]
    assert "@sha256:" in containers["app"]["image"]
    assert containers["migrate"]["image"] == containers["app"]["image"]
    assert recording.outputs["image_ref"] == image.outputs["repoDigest"]


def test_task_platform_matches_the_image_platform(recording: Recording) -> None:
    task = _service_task(recording).inputs
    image = recording.one("docker:index/image:Image").inputs
    assert task["runtimePlatform"] == {
        "operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"
    }
    assert image["build"]["platform"] == "linux/amd64"
    arm = _run(replace(ARGS, cpu_architecture="ARM64"))
    assert arm.one("docker:index/image:Image").inputs["build"]["platform"] == "linux/arm64"


def test_migrations_run_in_an_init_container_before_the_app(recording: Recording) -> None:
    containers = _containers(recording)
    migrate, app = containers["migrate"], containers["app"]
    assert migrate["essential"] is False
    assert migrate["command"] == ["python", "-m", "service", "migrate"]
    assert "portMappings" not in migrate
    assert app["essential"] is True
    assert app["dependsOn"] == [{"containerName": "migrate", "condition": "SUCCESS"}]
    assert app["command"][:4] == ["python", "-m", "service", "serve"]
    assert app["portMappings"] == [{"containerPort": 8000, "protocol": "tcp"}]


def test_containers_are_read_only_and_unprivileged(recording: Recording) -> None:
    task = _service_task(recording).inputs
    assert task["volumes"] == [{"name": "tmp"}]
    for container in _containers(recording).values():
        assert container["readonlyRootFilesystem"] is True
        assert container["user"].split(":")[0] not in ("", "0", "root")
        assert container["mountPoints"] == [
            {"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}
        ]
        assert container["linuxParameters"]["capabilities"] == {"drop": ["ALL"]}
        assert container["privileged"] is False


def test_environment_is_exactly_the_contract(recording: Recording) -> None:
    database = {
        "ENVIRONMENT": "prod",
        "DB_HOST": "db.internal.example",
        "DB_PORT": "5432",
        "DB_NAME": "awaterra",
        "DB_SSLMODE": "require",
        "LOG_LEVEL": "info",
    }
    environments = {
        name: {e["name"]: e["value"] for e in container["environment"]}
        for name, container in _containers(recording).items()
    }
    assert environments["app"] == {
        **database,
        "DB_USER": "awaterra_app",
        "DB_IAM_AUTH": "aws",
        "STORAGE_URL": "s3://awaterra-media",
        "AUTH_JWKS_URL": ARGS.auth_jwks_url,
        "AUTH_ISSUER": ARGS.auth_issuer,
        "AUTH_AUDIENCE": "client-123",
    }
    # The migration reads the database settings alone (least privilege: no bucket, no issuer)
    # and the role it grants.
    assert environments["migrate"] == {
        **database, "DB_APP_ROLE": "awaterra_app", "DB_APP_ROLE_IAM": "aws"
    }  # fmt: skip


def _variables(container: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    return (
        {e["name"]: e["value"] for e in container["environment"]},
        {s["name"]: s["valueFrom"] for s in container["secrets"]},
    )


MASTER = {"DB_USER": f"{SECRET_ARN}:username::", "DB_PASSWORD": f"{SECRET_ARN}:password::"}


def test_the_service_signs_in_with_iam_and_only_migrate_gets_the_master_secret(
    recording: Recording,
) -> None:
    task = _service_task(recording).inputs
    assert "password" not in json.dumps(
        [c["environment"] for c in _containers(recording).values()]
    ).lower()
    containers = _containers(recording)
    app_env, app_secrets = _variables(containers["app"])
    assert app_secrets == {}, "the running service never holds the master password"
    assert {k: app_env[k] for k in ("DB_USER", "DB_IAM_AUTH", "DB_SSLMODE")} == {
        "DB_USER": "awaterra_app", "DB_IAM_AUTH": "aws", "DB_SSLMODE": "require"
    }  # fmt: skip
    migrate_env, migrate_secrets = _variables(containers["migrate"])
    assert migrate_secrets == MASTER
    assert {k: migrate_env.get(k) for k in ("DB_APP_ROLE", "DB_APP_ROLE_IAM", "DB_IAM_AUTH")} == {
        "DB_APP_ROLE": "awaterra_app", "DB_APP_ROLE_IAM": "aws", "DB_IAM_AUTH": None
    }  # fmt: skip
    assert task["executionRoleArn"] != task["taskRoleArn"]


def test_without_iam_sign_in_every_container_is_the_master_user() -> None:
    recording = _run(replace(ARGS, db_iam_sign_in=False))
    for name, container in _containers(recording).items():
        environment, secrets = _variables(container)
        assert secrets == MASTER, name
        assert not {"DB_IAM_AUTH", "DB_APP_ROLE", "DB_APP_ROLE_IAM"} & set(environment), name
    statements = _policy(recording, "api-task-permissions")
    assert not [a for s in statements for a in _actions(s) if a.startswith("rds-db:")]


@pytest.mark.parametrize("user", ["Awaterra", "app-user", "", "a" * 64, "x/y"])
def test_the_service_user_must_be_a_plain_name(user: str) -> None:
    with pytest.raises(ValueError, match="db_app_user must be"):
        replace(ARGS, db_app_user=user)


def test_logs_go_to_the_encrypted_log_group_with_retention(recording: Recording) -> None:
    log_group = recording.one("aws:cloudwatch/logGroup:LogGroup").inputs
    assert log_group["retentionInDays"] == 30
    key = recording.one("aws:kms/key:Key")
    assert log_group["kmsKeyId"] == key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True
    key_policy = json.loads(key.inputs["policy"])
    [logs] = [s for s in key_policy["Statement"] if "Service" in s["Principal"]]
    assert logs["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"].endswith(
        f":log-group:{log_group['name']}"
    )
    for container in _containers(recording).values():
        options = container["logConfiguration"]["options"]
        assert container["logConfiguration"]["logDriver"] == "awslogs"
        assert options["awslogs-group"] == log_group["name"]


# --- IAM -----------------------------------------------------------------------------------


def test_no_policy_grants_a_wildcard_action(recording: Recording) -> None:
    for name in ("api-execution-permissions", "api-task-permissions"):
        for statement in _policy(recording, name):
            assert statement["Effect"] == "Allow"
            for action in _actions(statement):
                assert "*" not in action, (name, action)


def test_task_role_reaches_only_its_bucket_and_key(recording: Recording) -> None:
    statements = _policy(recording, "api-task-permissions")
    granted = {(a, r) for s in statements for a in _actions(s) for r in _resources(s)}
    assert granted == {
        ("s3:GetObject", f"{BUCKET_ARN}/*"),
        ("s3:PutObject", f"{BUCKET_ARN}/*"),
        ("s3:ListBucket", BUCKET_ARN),
        ("kms:Decrypt", BUCKET_KEY),
        ("kms:GenerateDataKey", BUCKET_KEY),
        # Sign in to its database as its own user, on this instance only.
        ("rds-db:connect", DB_USER_ARN),
    }


def test_execution_role_pulls_logs_and_reads_exactly_the_db_secret(
    recording: Recording,
) -> None:
    statements = _policy(recording, "api-execution-permissions")
    by_sid = {s["Sid"]: s for s in statements}
    repository = recording.one("aws:ecr/repository:Repository").outputs["arn"]
    log_group = recording.one("aws:cloudwatch/logGroup:LogGroup").outputs["arn"]
    assert _resources(by_sid["PullServiceImage"]) == [repository]
    assert _resources(by_sid["WriteServiceLogs"]) == [f"{log_group}:log-stream:service/*"]
    assert _actions(by_sid["ReadSecrets"]) == ["secretsmanager:GetSecretValue"]
    assert _resources(by_sid["ReadSecrets"]) == [SECRET_ARN]
    assert _resources(by_sid["DecryptSecrets"]) == [SECRET_KEY]
    assert by_sid["DecryptSecrets"]["Condition"]["StringEquals"]["kms:ViaService"] == [
        "secretsmanager.us-east-1.amazonaws.com"
    ]
    # The only resource wildcard: registry login, which supports no resource-level permission.
    wildcard = [s for s in statements if "*" in _resources(s)]
    assert [_actions(s) for s in wildcard] == [["ecr:GetAuthorizationToken"]]
    # The execution role may not touch the bucket, the task role may not read secrets.
    assert not any(a.startswith("s3:") for s in statements for a in _actions(s))
    task_actions = [a for s in _policy(recording, "api-task-permissions") for a in _actions(s)]
    assert not any(a.startswith(("secretsmanager:", "ecr:", "logs:")) for a in task_actions)


def test_roles_trust_only_ecs_tasks_of_this_account(recording: Recording) -> None:
    execution = _role_of(recording, "api-execution-permissions")
    task = _role_of(recording, "api-task-permissions")
    assert execution.id != task.id
    for role in (execution, task):
        [statement] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert statement["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
        assert "managedPolicyArns" not in role.inputs


# --- Datadog plug-in points ----------------------------------------------------------------


def test_extra_containers_log_configuration_and_datadog_secret() -> None:
    firelens = {"logDriver": "awsfirelens",
                "options": {"Name": "datadog", "provider": "ecs"},
                "secretOptions": [{"name": "apikey", "valueFrom": DATADOG_SECRET}]}  # fmt: skip
    router = {"name": "log-router", "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit",
              "essential": True, "firelensConfiguration": {"type": "fluentbit"},
              "secrets": [{"name": "DD_API_KEY",
                           "valueFrom": pulumi.Output.from_input(DATADOG_SECRET)}]}  # fmt: skip
    recording = _run(
        replace(ARGS, extra_containers=(router,), log_configuration=firelens,
                datadog_api_key_secret_arn=DATADOG_SECRET)
    )  # fmt: skip
    containers = _containers(recording)
    assert set(containers) == {"migrate", "app", "log-router"}
    assert containers["log-router"]["secrets"][0]["valueFrom"] == DATADOG_SECRET
    assert containers["app"]["logConfiguration"] == firelens
    by_sid = {s["Sid"]: s for s in _policy(recording, "api-execution-permissions")}
    assert _resources(by_sid["ReadSecrets"]) == sorted([SECRET_ARN, DATADOG_SECRET])


def test_extra_container_names_may_not_shadow_ours() -> None:
    for extra in ({"name": "app"}, {"name": "migrate"}, {"image": "x"}):
        with pytest.raises(ValueError, match="unique names other than app/migrate"):
            replace(ARGS, extra_containers=(extra,))
    with pytest.raises(ValueError, match="unique names"):
        replace(ARGS, extra_containers=({"name": "agent"}, {"name": "agent"}))


def test_policy_builders_refuse_what_would_widen_access() -> None:
    from components.aws.service_iam import execution_policy, task_policy

    for bad in ("arn:aws:s3:::media/*", "arn:aws:s3:::*", "media"):
        with pytest.raises(ValueError, match="is not a bucket ARN"):
            task_policy(bucket_arn=bad, bucket_kms_key_arn=None)
    with pytest.raises(ValueError, match="at least one secret"):
        execution_policy(repository_arn="r", log_group_arn="l", log_stream_prefix="p",
                         secret_arns=[])  # fmt: skip
    assert [s["Sid"] for s in task_policy(bucket_arn=BUCKET_ARN, bucket_kms_key_arn=None)[
        "Statement"]] == ["ReadWriteObjects", "CheckBucket"]  # fmt: skip
    for bad in (f"arn:aws:rds-db:us-east-1:{ACCOUNT}:dbuser:*/awaterra_app",
                f"arn:aws:rds:us-east-1:{ACCOUNT}:db:awaterra", "awaterra_app"):  # fmt: skip
        with pytest.raises(ValueError, match="is not one database user's ARN"):
            task_policy(bucket_arn=BUCKET_ARN, bucket_kms_key_arn=None, db_user_arn=bad)
    from components.aws.container_service import db_user_arn

    with pytest.raises(ValueError, match="not an RDS instance resource id"):
        db_user_arn("us-east-1", ACCOUNT, "awaterra-prod-db", "awaterra_app")


def test_datadog_shipping_plugs_in_without_touching_the_contract() -> None:
    from components.aws import datadog_shipping as dd

    shipping = dd.DatadogShippingArgs(
        mode="firelens", site="datadoghq.eu", environment="prod", service="awaterra-api",
        version="abc123", region="us-east-1", api_key_secret_arn=DATADOG_SECRET,
        log_group_name="/awaterra/prod/api",
    )  # fmt: skip
    recording = _run(
        replace(
            ARGS,
            extra_containers=tuple(dd.datadog_containers(shipping)),
            extra_volumes=tuple(dd.datadog_volumes(shipping)),
            log_configuration=dd.app_log_configuration(shipping),
            app_environment=tuple(dd.app_environment(shipping)),
            app_docker_labels=dd.app_docker_labels(shipping),
            app_depends_on=tuple(dd.app_depends_on(shipping)),
            datadog_api_key_secret_arn=DATADOG_SECRET,
        )
    )
    containers = _containers(recording)
    assert set(containers) == {
        "migrate", "app", dd.AGENT_INIT_CONTAINER, dd.AGENT_CONTAINER, dd.LOG_ROUTER_CONTAINER
    }  # fmt: skip
    task = _service_task(recording).inputs
    assert task["volumes"] == [{"name": "tmp"}, *dd.datadog_volumes(shipping)]
    app = containers["app"]
    assert app["dependsOn"][0] == {"containerName": "migrate", "condition": "SUCCESS"}
    assert {d["containerName"] for d in app["dependsOn"][1:]} == {
        dd.AGENT_CONTAINER, dd.LOG_ROUTER_CONTAINER
    }
    env = {e["name"]: e["value"] for e in app["environment"]}
    assert env["DD_TRACE_ENABLED"] == "true" and env["STORAGE_URL"] == "s3://awaterra-media"
    migrate_env = {e["name"] for e in containers["migrate"]["environment"]}
    assert not any(name.startswith("DD_") for name in migrate_env)
    assert app["logConfiguration"]["logDriver"] == "awsfirelens"
    assert "com.datadoghq.ad.checks" in app["dockerLabels"]
    by_sid = {s["Sid"]: s for s in _policy(recording, "api-execution-permissions")}
    assert DATADOG_SECRET in _resources(by_sid["ReadSecrets"])


def test_app_environment_may_not_replace_a_contract_variable() -> None:
    for name in ("DB_HOST", "DATABASE_URL", "DB_PASSWORD"):
        with pytest.raises(ValueError, match="may not replace contract variables"):
            replace(ARGS, app_environment=({"name": name, "value": "elsewhere"},))


def _mounted_volumes(recording: Recording) -> dict[str, set[str]]:
    return {
        name: {m["sourceVolume"] for m in container.get("mountPoints", [])}
        for name, container in _containers(recording).items()
    }


def test_prod_program_runs_every_container_read_only_on_task_volumes() -> None:
    from components.aws import datadog_shipping as dd
    from ops.plan import record

    recording = record("prod")  # the whole program with Pulumi.prod.yaml (datadogShipping firelens)
    containers = _containers(recording)
    assert {dd.AGENT_INIT_CONTAINER, dd.AGENT_CONTAINER, dd.LOG_ROUTER_CONTAINER} <= set(containers)
    task = _service_task(recording).inputs
    declared = [volume["name"] for volume in task["volumes"]]
    assert len(declared) == len(set(declared))
    for volume in task["volumes"]:
        assert set(volume) == {"name"}, "ephemeral task storage only: no host path, EFS or Docker"
    for name, container in containers.items():
        assert container["readonlyRootFilesystem"] is True, name
        assert container.get("privileged") in (None, False), name
    mounted = _mounted_volumes(recording)
    assert all(volumes <= set(declared) for volumes in mounted.values()), mounted
    # The app's /tmp (its data directory) is shared with migrate only, never with a sidecar.
    assert {name for name, volumes in mounted.items() if "tmp" in volumes} == {"app", "migrate"}
    sidecar_paths = {
        dd.AGENT_CONTAINER: dd.AGENT_WRITABLE_PATHS,
        dd.LOG_ROUTER_CONTAINER: dd.LOG_ROUTER_WRITABLE_PATHS,
    }
    for name, writable in sidecar_paths.items():
        mounts = {m["containerPath"]: m["sourceVolume"] for m in containers[name]["mountPoints"]}
        assert mounts == {path: volume for volume, path in writable.items()}, name
    # The agent starts once its init copied the configuration; the app after both sidecars.
    assert containers[dd.AGENT_CONTAINER]["dependsOn"] == [
        {"containerName": dd.AGENT_INIT_CONTAINER, "condition": "SUCCESS"}
    ]
    assert containers[dd.AGENT_INIT_CONTAINER]["essential"] is False
    assert {d["containerName"] for d in containers["app"]["dependsOn"]} == {
        "migrate", dd.AGENT_CONTAINER, dd.LOG_ROUTER_CONTAINER
    }  # fmt: skip


@pytest.mark.parametrize(
    ("volumes", "containers", "message"),
    [
        (({"name": "tmp"},), (), "'tmp' is taken by the app's /tmp volume"),
        (({"name": "cache"}, {"name": "cache"}), (), r"must be unique: \['cache'\]"),
        (({"name": "no spaces"},), (), "letters, digits"),
        (({"name": ""},), (), "letters, digits"),
        (({"name": "x" * 256},), (), "letters, digits"),
        (({},), (), r"only as \{'name': \.\.\.\}"),
        (({"name": "host", "host": {"sourcePath": "/"}},), (), r"only as \{'name': \.\.\.\}"),
        (
            ({"name": "cache"},),
            ({"name": "agent", "mountPoints": [{"sourceVolume": "other", "containerPath": "/x"}]},),
            r"'agent' may mount only extra_volumes .*\['other'\]",
        ),
        (
            (),
            ({"name": "agent", "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/tmp"}]},),
            r"not the app's 'tmp'\), got \['tmp'\]",
        ),
    ],
)
def test_extra_volumes_are_validated(
    volumes: tuple[dict[str, Any], ...], containers: tuple[dict[str, Any], ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        replace(ARGS, extra_volumes=volumes, extra_containers=containers)


def test_extra_volumes_reach_the_task_definition() -> None:
    sidecar = {"name": "agent", "image": "agent:7", "readonlyRootFilesystem": True,
               "mountPoints": [{"sourceVolume": "agent_run", "containerPath": "/run",
                                "readOnly": False}]}  # fmt: skip
    recording = _run(
        replace(ARGS, extra_volumes=({"name": "agent_run"},), extra_containers=(sidecar,))
    )
    task = _service_task(recording).inputs
    assert task["volumes"] == [{"name": "tmp"}, {"name": "agent_run"}]
    assert _mounted_volumes(recording)["agent"] == {"agent_run"}
