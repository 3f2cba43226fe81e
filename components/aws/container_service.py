"""The API on Fargate: image, cluster, task, service, load balancer, autoscaling.

`ContainerService(name, ContainerServiceArgs(...))` creates
- a KMS key (rotating) for the repository and the log group;
- `ContainerImage` (components/aws/image.py): ECR repository (scan on push, immutable tags, KMS,
  lifecycle) and the image built from `service/Dockerfile`, tagged by content, run by digest;
- an ECS cluster with Container Insights, a log group with retention and KMS encryption;
- separate execution and task roles (components/aws/service_iam.py: exact ARNs, no `*` actions);
- the task definition (components/aws/task_containers.py): `migrate` init container, then `app`,
  read-only root filesystem, non-root, environment exactly as docs/service.md lists it. `app`
  signs in as its own database user (`awaterra_app`) with RDS IAM tokens: the task role may
  `rds-db:connect` as that user on this instance only, and no password exists for it; `migrate`
  signs in as the master user (DB_USER/DB_PASSWORD injected from the RDS-managed secret),
  creates that user and grants it row privileges only. Why an init container migrates: see
  that module;
- `LoadBalancer` (components/aws/load_balancer.py): HTTPS-only ALB, `/metrics*` answered 404;
- the Fargate service: circuit breaker with rollback, 100%/200% rolling deploys, health check
  grace period, waits for a steady state; target tracking on CPU and requests per target;
- `MaintenanceSchedule` (components/aws/maintenance.py): `python -m service maintain` daily as a
  task of its own on the same cluster, subnets and security group, with an execution role of
  its own that reads only the database secret, started by EventBridge Scheduler with a role that
  may run only that task definition. The jobs (`migrate`, `maintain`) get only the database,
  logging and retention variables, never the panel's session key, bucket or issuer.

Args (`ContainerServiceArgs`); required first, then the defaults (all the safe choice):
- `environment` ("dev" | "prod"), `vpc_id`, `public_subnet_ids`, `service_subnet_ids`,
  `assign_public_ip: bool`, `lb_security_group_id`, `service_security_group_id` (Network);
  `certificate_arn` (TlsCertificate); `bucket_name`, `bucket_arn`, `bucket_kms_key_arn`
  (MediaBucket; `None` if the bucket uses SSE-S3); `db_address`, `db_port`, `db_name`,
  `db_master_secret_arn`, `db_resource_id` (Database); `auth_issuer`, `auth_jwks_url`,
  `auth_audience` (UserPool or the external issuer).
- `db_iam_sign_in: bool = True` the service signs in with IAM as `db_app_user: str =
  "awaterra_app"`; `False` hands it the master secret as well (every container the master user).
- `db_secret_kms_key_arn: Input[str] | None = None` the key of the RDS-managed secret when it is a
  customer-managed key (the execution role then may decrypt with it, via Secrets Manager only).
- `access_logs_bucket: Input[str] | None = None` (LogBucket name; `None` = no ALB access logs),
  `lb_deletion_protection: bool = True`, `ssl_policy` (see load_balancer.py),
  `http_redirect: bool = False` (a port-80 listener that only redirects to HTTPS; the network
  must then admit `load_balancer.listener_ports(True)`).
- `cpu: int = 512`, `memory: int = 1024`, `min_count: int = 2` (prod refuses < 2),
  `max_count: int = 4`, `workers: int = 2`, `cpu_architecture: "X86_64" | "ARM64" = "X86_64"`
  (the image is built for the matching platform).
- `cpu_target_percent: float = 60`, `requests_per_target: int = 1000` (per minute),
  `health_check_grace_seconds: int = 60`.
- `log_retention_days: int = 30`, `log_level: str = "info"`, `log_group_name: str | None = None`
  (default `/awaterra/<stack>/<name>`), `container_insights: "enabled" | "enhanced" = "enabled"`.
- `image_tag: str | None = None` (settings `imageTag`; default: the content hash),
- `image_build_args: Mapping[str, str] = {}` Docker build arguments for the service image
  (`datadog_shipping.image_build_args`: ddtrace in the image when the agent runs),
  `container_user: str = "10001:10001"` (the image's non-root user).
- `extra_containers: Sequence[Mapping] = ()` further container definitions (camelCase ECS JSON,
  values may be Outputs), e.g. the Datadog agent sidecar or FireLens log router from
  components/aws/datadog_shipping.py; names must differ from `app`/`migrate`.
- `extra_volumes: Sequence[Mapping] = ()` further task-level ephemeral volumes (Fargate bind
  mounts, `{"name": ...}` only) for the extra containers' writable paths under a read-only root
  filesystem (`datadog_shipping.datadog_volumes`). Names must be unique and differ from the app's
  `tmp`; an extra container may mount only these volumes (never the app's `/tmp`).
- `log_configuration: Mapping | None = None` replaces the `awslogs` configuration of `app` and
  `migrate` (e.g. `awsfirelens`); the log group stays for the extra containers to use.
- `datadog_api_key_secret_arn: Input[str] | None = None` a secret the execution role may also
  read (for `secrets` / `secretOptions` of the extra containers), and
  `datadog_api_key_kms_key_arn: Input[str] | None = None` its key if customer-managed.
- `app_environment: Sequence[Mapping] = ()` extra `{"name", "value"}` variables for `app` only
  (e.g. `datadog_shipping.app_environment(...)`: DD_* tracing settings); they may not replace a
  contract variable. `app_docker_labels: Mapping = {}` (`datadog_shipping.app_docker_labels`),
  `app_depends_on: Sequence[Mapping] = ()` (`datadog_shipping.app_depends_on`: start after the
  agent / log router), added after the `migrate` SUCCESS dependency.
- `access_logs_prefix: str = "alb"` (must equal `LogBucket.alb_log_prefix`).
- `maintenance_schedule: str = "cron(17 3 * * ? *)"` when `maintain` runs (UTC).

Outputs: `load_balancer_arn`, `load_balancer_arn_suffix`, `load_balancer_dns_name`,
`load_balancer_zone_id`, `target_group_arn_suffix`, `cluster_name`, `service_name`,
`log_group_name`, `repository_url`, `image_ref`, `task_role_arn`, `execution_role_arn`,
`maintenance_schedule_arn`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from components.aws.execution_role import execution_role_with_policy
from components.aws.image import ContainerImage, ContainerImageArgs
from components.aws.load_balancer import DEFAULT_SSL_POLICY, LoadBalancer, LoadBalancerArgs
from components.aws.log_encryption import logs_key_statement
from components.aws.maintenance import (
    DEFAULT_SCHEDULE,
    MaintenanceSchedule,
    MaintenanceScheduleArgs,
)
from components.aws.policy_documents import account_context, customer_key, key_policy
from components.aws.service_iam import assume_role_policy, task_policy
from components.aws.task_containers import (
    ADMIN_SECRET_VARIABLE,
    APP,
    APP_DB_USER,
    CONTRACT_VARIABLES,
    ENVIRONMENTS,
    LOG_LEVELS,
    MAINTAIN,
    MIGRATE,
    TMP_VOLUME,
    TaskContainers,
    admin_environment,
    database_sign_in,
    service_environment,
)

LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                      1827, 2192, 2557, 2922, 3288, 3653)  # fmt: skip
PLATFORM_OF = {"X86_64": "linux/amd64", "ARM64": "linux/arm64"}
CONTAINER_PORT = 8000
LOG_STREAM_PREFIX = "service"
# ECS volume names: up to 255 letters, numbers, hyphens and underscores.
VOLUME_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
# The service's database user: a plain identifier (it lands in an IAM resource ARN, too).
DB_USER_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")


@dataclass(frozen=True)
class ContainerServiceArgs:
    environment: str
    vpc_id: pulumi.Input[str]
    public_subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    service_subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    assign_public_ip: bool
    lb_security_group_id: pulumi.Input[str]
    service_security_group_id: pulumi.Input[str]
    certificate_arn: pulumi.Input[str]
    bucket_name: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    bucket_kms_key_arn: pulumi.Input[str] | None
    db_address: pulumi.Input[str]
    db_port: pulumi.Input[int]
    db_name: pulumi.Input[str]
    db_master_secret_arn: pulumi.Input[str]
    db_resource_id: pulumi.Input[str]
    auth_issuer: pulumi.Input[str]
    auth_jwks_url: pulumi.Input[str]
    auth_audience: pulumi.Input[str]
    db_iam_sign_in: bool = True
    db_app_user: str = APP_DB_USER
    db_secret_kms_key_arn: pulumi.Input[str] | None = None
    access_logs_bucket: pulumi.Input[str] | None = None
    lb_deletion_protection: bool = True
    http_redirect: bool = False
    ssl_policy: str = DEFAULT_SSL_POLICY
    cpu: int = 512
    memory: int = 1024
    min_count: int = 2
    max_count: int = 4
    workers: int = 2
    cpu_architecture: Literal["X86_64", "ARM64"] = "X86_64"
    cpu_target_percent: float = 60.0
    requests_per_target: int = 1000
    health_check_grace_seconds: int = 60
    log_retention_days: int = 30
    log_level: str = "info"
    log_group_name: str | None = None
    container_insights: Literal["enabled", "enhanced"] = "enabled"
    image_tag: str | None = None
    image_build_args: Mapping[str, str] = field(default_factory=dict)
    container_user: str = "10001:10001"
    extra_containers: Sequence[Mapping[str, Any]] = ()
    extra_volumes: Sequence[Mapping[str, Any]] = ()
    log_configuration: Mapping[str, Any] | None = None
    datadog_api_key_secret_arn: pulumi.Input[str] | None = None
    datadog_api_key_kms_key_arn: pulumi.Input[str] | None = None
    app_environment: Sequence[Mapping[str, Any]] = ()
    app_docker_labels: Mapping[str, Any] = field(default_factory=dict)
    app_depends_on: Sequence[Mapping[str, str]] = ()
    access_logs_prefix: str = "alb"
    maintenance_schedule: str = DEFAULT_SCHEDULE
    # The admin panel (components/aws/admin_panel.py): its OIDC client, the public origin, the
    # monitoring links for its status page, and the secret holding its session key (the
    # execution role may read that secret and decrypt with its key, nothing more).
    admin_client_id: pulumi.Input[str] | None = None
    admin_base_url: str | None = None
    admin_links: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    admin_session_key_secret_arn: pulumi.Input[str] | None = None
    admin_session_key_kms_key_arn: pulumi.Input[str] | None = None

    def __post_init__(self) -> None:
        problems = list(self._problems())
        if problems:
            raise ValueError("ContainerService: " + "; ".join(problems))

    def _problems(self) -> Iterator[str]:
        if self.environment not in ENVIRONMENTS:
            yield f"environment must be one of {ENVIRONMENTS}, got {self.environment!r}"
        if self.min_count < 1:
            yield f"min_count must be >= 1, got {self.min_count}"
        if self.environment == "prod" and self.min_count < 2:
            yield f"min_count must be >= 2 in prod (one task per AZ), got {self.min_count}"
        if self.max_count < self.min_count:
            yield f"max_count ({self.max_count}) must be >= min_count ({self.min_count})"
        if self.workers < 1:
            yield f"workers must be >= 1, got {self.workers}"
        if self.cpu_architecture not in PLATFORM_OF:
            yield f"cpu_architecture must be one of {tuple(PLATFORM_OF)}"
        if not 10 <= self.cpu_target_percent <= 90:
            yield f"cpu_target_percent must be between 10 and 90, got {self.cpu_target_percent}"
        if self.requests_per_target < 1:
            yield f"requests_per_target must be >= 1, got {self.requests_per_target}"
        if self.health_check_grace_seconds < 0:
            yield "health_check_grace_seconds must be >= 0"
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            yield f"log_retention_days must be one of {LOG_RETENTION_DAYS}"
        if self.log_level not in LOG_LEVELS:
            yield f"log_level must be one of {LOG_LEVELS}, got {self.log_level!r}"
        names = [c.get("name") for c in self.extra_containers]
        if set(names) & {APP, MIGRATE, None} or len(set(names)) != len(names):
            yield f"extra containers need unique names other than app/migrate: {names}"
        yield from self._volume_problems()
        shadowed = sorted(
            {str(e.get("name")) for e in self.app_environment} & CONTRACT_VARIABLES
        )
        if shadowed:
            yield f"app_environment may not replace contract variables: {shadowed}"
        if not DB_USER_NAME.fullmatch(self.db_app_user):
            yield (
                "db_app_user must be 1-63 lowercase letters, digits or '_', starting with a "
                f"letter, got {self.db_app_user!r}"
            )
        if self.container_user.split(":")[0] in ("", "0", "root"):
            yield f"container_user must be a non-root user, got {self.container_user!r}"
        admin = (self.admin_client_id, self.admin_base_url, self.admin_session_key_secret_arn)
        if any(value is not None for value in admin) and None in admin:
            yield (
                "the admin panel needs admin_client_id, admin_base_url and "
                "admin_session_key_secret_arn together"
            )

    def _volume_problems(self) -> Iterator[str]:
        names = [volume.get("name") for volume in self.extra_volumes]
        for volume in self.extra_volumes:
            if set(volume) != {"name"}:
                yield (
                    "extra_volumes are task-level ephemeral volumes given only as {'name': ...}, "
                    f"got {dict(volume)!r}"
                )
        bad = [n for n in names if not (isinstance(n, str) and VOLUME_NAME.fullmatch(n))]
        if bad:
            yield f"extra volume names must be 1-255 letters, digits, '-' or '_': {bad}"
        if TMP_VOLUME in names:
            yield f"extra volume name {TMP_VOLUME!r} is taken by the app's /tmp volume"
        duplicates = sorted({str(n) for n in names if names.count(n) > 1})
        if duplicates:
            yield f"extra volume names must be unique: {duplicates}"
        # The app's /tmp holds its data directory: a sidecar gets volumes of its own.
        for container in self.extra_containers:
            mounted = [m.get("sourceVolume") for m in container.get("mountPoints") or ()]
            undeclared = [v for v in mounted if v not in names]
            if undeclared:
                yield (
                    f"extra container {container.get('name')!r} may mount only extra_volumes "
                    f"(not the app's {TMP_VOLUME!r}), got {undeclared}"
                )


class ContainerService(pulumi.ComponentResource):
    """The service behind its load balancer, deployed from this repository's `service/`."""

    load_balancer_arn: pulumi.Output[str]
    load_balancer_arn_suffix: pulumi.Output[str]
    load_balancer_dns_name: pulumi.Output[str]
    load_balancer_zone_id: pulumi.Output[str]
    target_group_arn_suffix: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    service_name: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    repository_url: pulumi.Output[str]
    image_ref: pulumi.Output[str]
    task_role_arn: pulumi.Output[str]
    execution_role_arn: pulumi.Output[str]
    maintenance_schedule_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: ContainerServiceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("awaterra:container_service:ContainerService", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        context = account_context(self)
        account_id, region = context.account_id, context.region
        family = f"{pulumi.get_project()}-{pulumi.get_stack()}-{name}"
        log_group_name = args.log_group_name or (
            f"/{pulumi.get_project()}/{pulumi.get_stack()}/{name}"
        )

        key = customer_key(
            f"{name}-key",
            f"{name}: container images and service logs",
            key_policy(account_id, [logs_key_statement(account_id, region, log_group_name)]),
            child,
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=log_group_name,
            retention_in_days=args.log_retention_days,
            kms_key_id=key.arn,
            opts=child,
        )
        image = ContainerImage(
            f"{name}-image",
            ContainerImageArgs(
                kms_key_arn=key.arn,
                platform=PLATFORM_OF[args.cpu_architecture],
                tag=args.image_tag,
                build_args=args.image_build_args,
            ),
            opts=child,
        )
        cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            name=family,
            settings=[
                aws.ecs.ClusterSettingArgs(name="containerInsights", value=args.container_insights)
            ],
            opts=child,
        )

        trust = pulumi.Output.all(account_id, region).apply(
            lambda v: json.dumps(assume_role_policy(v[0], v[1]))
        )
        secret_arns = [args.db_master_secret_arn]
        if args.datadog_api_key_secret_arn is not None:
            secret_arns.append(args.datadog_api_key_secret_arn)
        if args.admin_session_key_secret_arn is not None:
            secret_arns.append(args.admin_session_key_secret_arn)
        optional_keys = (
            args.db_secret_kms_key_arn,
            args.datadog_api_key_kms_key_arn,
            args.admin_session_key_kms_key_arn,
        )
        secret_keys = [key_arn for key_arn in optional_keys if key_arn is not None]
        execution_role, execution_permissions = execution_role_with_policy(
            name,
            description=f"{name}: ECS agent (pull image, write logs, inject secrets)",
            trust=trust,
            repository_arn=image.repository_arn,
            log_group_arn=log_group.arn,
            log_stream_prefix=LOG_STREAM_PREFIX,
            secret_arns=secret_arns,
            secret_kms_key_arns=secret_keys,
            opts=child,
        )
        task_role = aws.iam.Role(
            f"{name}-task",
            description=f"{name}: the running service (its bucket only)",
            assume_role_policy=trust,
            opts=child,
        )
        task_permissions = aws.iam.RolePolicy(
            f"{name}-task-permissions",
            role=task_role.id,
            policy=pulumi.Output.all(
                bucket=args.bucket_arn,
                key=args.bucket_kms_key_arn,
                db_user=(
                    pulumi.Output.all(region, account_id, args.db_resource_id).apply(
                        lambda v: db_user_arn(v[0], v[1], v[2], args.db_app_user)
                    )
                    if args.db_iam_sign_in
                    else None
                ),
            ).apply(
                lambda v: json.dumps(
                    task_policy(
                        bucket_arn=v["bucket"],
                        bucket_kms_key_arn=v["key"],
                        db_user_arn=v["db_user"],
                    )
                )
            ),
            opts=child,
        )

        task_containers = pulumi.Output.all(
            image=image.image_ref,
            region=region,
            log_group=log_group.name,
            secret_arn=args.db_master_secret_arn,
            admin=pulumi.Output.from_input(
                {
                    "client_id": args.admin_client_id,
                    "base_url": args.admin_base_url,
                    "links": dict(args.admin_links),
                    "secret_arn": args.admin_session_key_secret_arn,
                }
            ),
            extra=pulumi.Output.from_input(list(args.extra_containers)),
            app_environment=pulumi.Output.from_input(list(args.app_environment)),
            app_docker_labels=pulumi.Output.from_input(dict(args.app_docker_labels)),
            log_configuration=pulumi.Output.from_input(
                dict(args.log_configuration) if args.log_configuration is not None else {}
            ),
            environment=pulumi.Output.all(
                environment=args.environment,
                db_host=args.db_address,
                db_port=args.db_port,
                db_name=args.db_name,
                bucket_name=args.bucket_name,
                auth_jwks_url=args.auth_jwks_url,
                auth_issuer=args.auth_issuer,
                auth_audience=args.auth_audience,
                log_level=args.log_level,
            ),
        ).apply(
            lambda v: _task_containers(args, v)
        )
        containers = task_containers.apply(lambda c: json.dumps(c.definitions()))
        task_definition = aws.ecs.TaskDefinition(
            f"{name}-task",
            family=family,
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(args.cpu),
            memory=str(args.memory),
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                operating_system_family="LINUX", cpu_architecture=args.cpu_architecture
            ),
            execution_role_arn=execution_role.arn,
            task_role_arn=task_role.arn,
            volumes=[
                aws.ecs.TaskDefinitionVolumeArgs(name=TMP_VOLUME),
                *(aws.ecs.TaskDefinitionVolumeArgs(name=v["name"]) for v in args.extra_volumes),
            ],
            container_definitions=containers,
            opts=child,
        )

        balancer = LoadBalancer(
            f"{name}-lb",
            LoadBalancerArgs(
                vpc_id=args.vpc_id,
                subnet_ids=args.public_subnet_ids,
                security_group_id=args.lb_security_group_id,
                certificate_arn=args.certificate_arn,
                container_port=CONTAINER_PORT,
                ssl_policy=args.ssl_policy,
                deletion_protection=args.lb_deletion_protection,
                access_logs_bucket=args.access_logs_bucket,
                access_logs_prefix=args.access_logs_prefix,
                http_redirect=args.http_redirect,
            ),
            opts=child,
        )

        service = aws.ecs.Service(
            f"{name}-service",
            cluster=cluster.arn,
            task_definition=task_definition.arn,
            launch_type="FARGATE",
            platform_version="LATEST",
            desired_count=args.min_count,
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=args.service_subnet_ids,
                security_groups=[args.service_security_group_id],
                assign_public_ip=args.assign_public_ip,
            ),
            load_balancers=[
                aws.ecs.ServiceLoadBalancerArgs(
                    target_group_arn=balancer.target_group_arn,
                    container_name=APP,
                    container_port=CONTAINER_PORT,
                )
            ],
            health_check_grace_period_seconds=args.health_check_grace_seconds,
            deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(
                enable=True, rollback=True
            ),
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            enable_execute_command=False,
            enable_ecs_managed_tags=True,
            propagate_tags="SERVICE",
            wait_for_steady_state=True,
            # The target group must belong to a listener before a service can register in it,
            # and the roles need their permissions before the first task pulls and starts; the
            # task count belongs to autoscaling once the service exists.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[balancer.https_listener, execution_permissions, task_permissions],
                ignore_changes=["desiredCount"],
            ),
        )

        scaling_target = aws.appautoscaling.Target(
            f"{name}-scaling",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=pulumi.Output.concat("service/", cluster.name, "/", service.name),
            min_capacity=args.min_count,
            max_capacity=args.max_count,
            opts=child,
        )
        _target_tracking(
            f"{name}-cpu", scaling_target, args.cpu_target_percent,
            "ECSServiceAverageCPUUtilization", None, child,
        )  # fmt: skip
        _target_tracking(
            f"{name}-requests", scaling_target, float(args.requests_per_target),
            "ALBRequestCountPerTarget",
            pulumi.Output.concat(
                balancer.load_balancer_arn_suffix, "/", balancer.target_group_arn_suffix
            ),
            child,
        )  # fmt: skip

        maintenance = MaintenanceSchedule(
            f"{name}-maintenance",
            MaintenanceScheduleArgs(
                cluster_arn=cluster.arn,
                family=family,
                container_definitions=task_containers.apply(
                    lambda c: json.dumps(c.maintenance_definitions())
                ),
                repository_arn=image.repository_arn,
                log_group_arn=log_group.arn,
                log_stream_prefix=f"{LOG_STREAM_PREFIX}/{MAINTAIN}",
                # The database secret alone: the only one its container references.
                secret_arns=[args.db_master_secret_arn],
                secret_kms_key_arns=[
                    key_arn for key_arn in (args.db_secret_kms_key_arn,) if key_arn is not None
                ],
                subnet_ids=args.service_subnet_ids,
                security_group_id=args.service_security_group_id,
                assign_public_ip=args.assign_public_ip,
                cpu_architecture=args.cpu_architecture,
                schedule=args.maintenance_schedule,
            ),
            # The first scheduled run must find the schema migrated by the service's tasks.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[service]),
        )

        self.load_balancer_arn = balancer.load_balancer_arn
        self.load_balancer_arn_suffix = balancer.load_balancer_arn_suffix
        self.load_balancer_dns_name = balancer.dns_name
        self.load_balancer_zone_id = balancer.zone_id
        self.target_group_arn_suffix = balancer.target_group_arn_suffix
        self.cluster_name = cluster.name
        self.service_name = service.name
        self.log_group_name = log_group.name
        self.repository_url = image.repository_url
        self.image_ref = image.image_ref
        self.task_role_arn = task_role.arn
        self.execution_role_arn = execution_role.arn
        self.maintenance_schedule_arn = maintenance.schedule_arn
        self.register_outputs(
            {
                "load_balancer_arn": self.load_balancer_arn,
                "load_balancer_arn_suffix": self.load_balancer_arn_suffix,
                "load_balancer_dns_name": self.load_balancer_dns_name,
                "load_balancer_zone_id": self.load_balancer_zone_id,
                "target_group_arn_suffix": self.target_group_arn_suffix,
                "cluster_name": self.cluster_name,
                "service_name": self.service_name,
                "log_group_name": self.log_group_name,
                "repository_url": self.repository_url,
                "image_ref": self.image_ref,
                "task_role_arn": self.task_role_arn,
                "execution_role_arn": self.execution_role_arn,
                "maintenance_schedule_arn": self.maintenance_schedule_arn,
            }
        )


def _admin_environment(admin: Mapping[str, Any]) -> dict[str, str]:
    if admin.get("client_id") is None:
        return {}
    return admin_environment(admin["client_id"], admin["base_url"], admin["links"] or {})


def _admin_secrets(admin: Mapping[str, Any]) -> dict[str, str]:
    if admin.get("secret_arn") is None:
        return {}
    return {ADMIN_SECRET_VARIABLE: admin["secret_arn"]}


def db_user_arn(region: str, account_id: str, resource_id: str, user: str) -> str:
    """What `rds-db:connect` names: one database user of one instance (its DbiResourceId)."""
    if not resource_id.startswith("db-"):
        raise ValueError(f"not an RDS instance resource id (db-...): {resource_id!r}")
    return f"arn:aws:rds-db:{region}:{account_id}:dbuser:{resource_id}/{user}"


def _task_containers(args: ContainerServiceArgs, v: Mapping[str, Any]) -> TaskContainers:
    sign_in = database_sign_in(v["secret_arn"], args.db_iam_sign_in, args.db_app_user)
    return TaskContainers(
        image=v["image"],
        environment={
            **service_environment(**v["environment"]),
            **_admin_environment(v["admin"]),
        },
        secrets={**sign_in.secrets, **_admin_secrets(v["admin"])},
        app_only_environment=sign_in.app_environment,
        job_only_environment=sign_in.job_environment,
        job_only_secrets=sign_in.job_secrets,
        log_group_name=v["log_group"],
        region=v["region"],
        log_stream_prefix=LOG_STREAM_PREFIX,
        container_port=CONTAINER_PORT,
        workers=args.workers,
        user=args.container_user,
        log_configuration=v["log_configuration"] or None,
        extra_containers=v["extra"],
        app_environment={e["name"]: str(e["value"]) for e in v["app_environment"]},
        app_docker_labels=v["app_docker_labels"],
        app_depends_on=args.app_depends_on,
    )


def _target_tracking(
    name: str,
    target: aws.appautoscaling.Target,
    target_value: float,
    metric: str,
    resource_label: pulumi.Input[str] | None,
    opts: pulumi.ResourceOptions,
) -> aws.appautoscaling.Policy:
    """Scale out fast (1 min), in slowly (5 min): a traffic burst must not flap the task count."""
    return aws.appautoscaling.Policy(
        name,
        policy_type="TargetTrackingScaling",
        service_namespace=target.service_namespace,
        scalable_dimension=target.scalable_dimension,
        resource_id=target.resource_id,
        target_tracking_scaling_policy_configuration=(
            aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                target_value=target_value,
                predefined_metric_specification=(
                    aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                        predefined_metric_type=metric, resource_label=resource_label
                    )
                ),
                scale_out_cooldown=60,
                scale_in_cooldown=300,
            )
        ),
        opts=opts,
    )
