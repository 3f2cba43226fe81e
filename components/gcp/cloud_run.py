"""The API on Cloud Run: the service behind the load balancer, and its schema migration job.

`CloudRunService(name, CloudRunServiceArgs(project=..., location=..., image_ref=registry.image_ref,
service_account_email=identity.email, network=..., subnetwork=..., deletion_protection=True,
environment={...}, secret_environment={"DB_PASSWORD": SecretEnv(secret.id)}))`

Args (`CloudRunServiceArgs`); required first:
- `project: Input[str]`, `location: str` (region), `image_ref: Input[str]` (the image **by
  digest**, `...@sha256:<64 hex>`; a tag is refused), `service_account_email: Input[str]`
  (`ServiceIdentity.email`), `network`, `subnetwork: Input[str]` (Direct VPC egress; the
  subnetwork needs room for 2 addresses per instance), `deletion_protection: bool` (always
  sent: the provider defaults it to true, but nothing here relies on a provider default).
- `environment: Mapping[str, Input[str]] = {}` plain variables (the service contract's:
  `ENVIRONMENT`, `DB_HOST`, ... as the caller builds them); `secret_environment: Mapping[str,
  SecretEnv] = {}` variables read by Cloud Run from Secret Manager at instance start
  (`value_source.secret_key_ref`: the revision holds the secret's *name*, never its value).
  `SecretEnv(secret, version="latest")`; pin a version number for fully reproducible revisions.
  A name may not be in both; `PORT` and `K_*` are Cloud Run's; `DB_PASSWORD`, `DATABASE_URL`
  and `*_SECRET`/`*_KEY`/`*_TOKEN`/`*_PASSWORD` names must be secrets, never plain values.
- `service_name: str | None = None` (default `name`; <= 49 lowercase letters, digits, `-`).
- `container_port: int = 8000`, `workers: int = 2` (uvicorn workers), `cpu: str = "1"`,
  `memory: str = "1Gi"`, `cpu_always_allocated: bool = True` (instance-based billing: the
  service flushes coalesced writes and keeps pools warm outside requests, which a CPU
  throttled between requests would stall), `startup_cpu_boost: bool = True`.
- `min_instances: int = 1` (no cold start for the first request), `max_instances: int = 4`,
  `concurrency: int = 80` requests per instance, `request_timeout_seconds: int = 60`.
- `health_check_path: str = "/heartbeat"` used by the startup probe (every 5 s, up to 2 min)
  and the liveness probe (every 15 s, 3 failures restart the instance).
- `vpc_egress: "PRIVATE_RANGES_ONLY" | "ALL_TRAFFIC" = "PRIVATE_RANGES_ONLY"`,
  `network_tags: Sequence[str] = ()` (firewall rules for the egress).
- `invoker: "allUsers" | "iam-disabled" | "none" = "allUsers"` see *Invocation* below.
- `migrate: bool = True`, `migrate_timeout_seconds: int = 600`, `migrate_retries: int = 0`.
- `jobs_service_account_email: Input[str] | None = None` the account the migrate and maintain
  jobs run as (default: the service's). Give them one of their own that owns the schema and has
  none of the service's grants (no bucket, no signing): components/gcp/stack.py does.
- `jobs_environment: Mapping[str, Input[str]] = {}` plain variables the jobs get instead of
  (or beside) the service's, e.g. their own `DB_USER` and the `DB_APP_ROLE` that `migrate`
  grants; only names the jobs read (components/job_variables.py), never secrets.
- `maintain: bool = True`, `maintain_schedule: str = "17 3 * * *"` (UTC): the daily
  `python -m service maintain` job and its Cloud Scheduler trigger (components/gcp/maintenance.py).
- `launch_stage: str = "GA"` (everything used here is GA), `labels: Mapping[str, str] = {}`.
- `depends_on: Sequence[Resource] = ()` what the job and the service wait for beyond their
  inputs, typically the `ServiceIdentity` (its secret and Cloud SQL grants must exist before the
  first migration runs) and the database.

Ingress is `INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER` and the `*.run.app` URL is disabled
(`default_uri_disabled`): the only way in is the load balancer (components/gcp/edge.py), so
Cloud Armor always sees the request. Execution environment gen2 (full Linux compatibility,
needed for Direct VPC egress). The image's own user (10001) runs the process.

Invocation: ingress decides which *network paths* may reach the service; the invoker IAM check
is separate and would still demand a Google identity token on every request. The load balancer
forwards the client's request as is (it adds no token) and the API authenticates its callers
itself with their Identity Platform bearer tokens, so the check must let unauthenticated
requests through: `allUsers` gets `roles/run.invoker` (the documented pattern for a public
API behind an external load balancer; safe because ingress admits the load balancer only).
Where an organisation policy (domain-restricted sharing) forbids `allUsers`, use
`invoker="iam-disabled"` (`invoker_iam_disabled=True`, the same effect without an IAM member).
`"none"` grants nothing (e.g. to put IAP in front and grant its service agent instead).

Migrations: Cloud Run has no init container that gates traffic the way the ECS task's `migrate`
container does. Sidecars (`depends_ons`) only order container *start-up*, and every container of
a revision must keep running: a `migrate` container that exits would fail the instance, and one
that migrated then idled would run the migration on every cold start and hold memory for the
instance's life. So the migration is a Cloud Run **job** (`python -m service migrate`, same
image digest and VPC egress, as the jobs' account; of the environment and secrets only the
database, logging and retention variables, never the bucket's or the issuer's:
components/job_variables.py), and the job's `run_execution_token` is derived from the image
digest: when the image changes, Pulumi creates an execution and waits until it has *completed
successfully* before it updates the service (which `depends_on` the job). A failed migration
therefore fails `pulumi up` with the old revision still serving all traffic (PostgreSQL's
transactional DDL leaves the schema as it was). It runs once per image, not per instance;
concurrent runs would still be safe (`migrate` takes an advisory lock). As on ECS, migrations
must stay compatible with the running release (expand now, contract in a later release): the old
revision serves while the job runs and until the new revision is ready. Re-run by hand with
`gcloud run jobs execute <job> --region <region> --wait`.

Outputs: `service_name`, `service_id`, `uri` (the disabled default URL, for reference),
`migrate_job_name` (None when `migrate=False`), `maintain_job_name` (None when `maintain=False`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_gcp as gcp

from components.job_variables import JOB_VARIABLES, job_only

SERVICE_NAME = re.compile(r"[a-z]([a-z0-9-]{0,47}[a-z0-9])?")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DIGEST = re.compile(r"[^@\s]+@sha256:[0-9a-f]{64}")
MEMORY = re.compile(r"[0-9]+(Mi|Gi)")
CPUS = ("1", "2", "4", "6", "8")
RESERVED_ENV = frozenset({"PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"})
SECRET_ONLY = frozenset({"DB_PASSWORD", "DATABASE_URL"})
SECRET_SUFFIXES = ("_SECRET", "_KEY", "_TOKEN", "_PASSWORD")
INGRESS = "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
INVOKER_ROLE = "roles/run.invoker"
TOKEN_LENGTH = 12
# The job's name plus its execution token must stay under 63 characters.
JOB_NAME_PREFIX_LENGTH = 40


@dataclass(frozen=True)
class SecretEnv:
    """A variable Cloud Run reads from Secret Manager: the secret's id or name, and a version."""

    secret: pulumi.Input[str]
    version: str = "latest"

    def __post_init__(self) -> None:
        if not (self.version == "latest" or self.version.isdigit()):
            raise ValueError(f"SecretEnv: version must be 'latest' or a number: {self.version!r}")


@dataclass(frozen=True)
class CloudRunServiceArgs:
    project: pulumi.Input[str]
    location: str
    image_ref: pulumi.Input[str]
    service_account_email: pulumi.Input[str]
    network: pulumi.Input[str]
    subnetwork: pulumi.Input[str]
    deletion_protection: bool
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    secret_environment: Mapping[str, SecretEnv] = field(default_factory=dict)
    service_name: str | None = None
    container_port: int = 8000
    workers: int = 2
    cpu: str = "1"
    memory: str = "1Gi"
    cpu_always_allocated: bool = True
    startup_cpu_boost: bool = True
    min_instances: int = 1
    max_instances: int = 4
    concurrency: int = 80
    request_timeout_seconds: int = 60
    health_check_path: str = "/heartbeat"
    vpc_egress: Literal["PRIVATE_RANGES_ONLY", "ALL_TRAFFIC"] = "PRIVATE_RANGES_ONLY"
    network_tags: Sequence[str] = ()
    invoker: Literal["allUsers", "iam-disabled", "none"] = "allUsers"
    migrate: bool = True
    migrate_timeout_seconds: int = 600
    migrate_retries: int = 0
    jobs_service_account_email: pulumi.Input[str] | None = None
    jobs_environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    maintain: bool = True
    maintain_schedule: str = "17 3 * * *"
    launch_stage: str = "GA"
    labels: Mapping[str, str] = field(default_factory=dict)
    depends_on: Sequence[pulumi.Resource] = ()

    def __post_init__(self) -> None:
        problems = list(self._problems())
        if problems:
            raise ValueError("CloudRunService: " + "; ".join(problems))

    def _problems(self) -> Iterator[str]:
        if isinstance(self.image_ref, str) and not DIGEST.fullmatch(self.image_ref):
            yield f"image_ref must be an image by digest (...@sha256:<hex>), got {self.image_ref!r}"
        if not isinstance(self.deletion_protection, bool):
            yield "deletion_protection must be given as True or False"
        if self.service_name is not None and not SERVICE_NAME.fullmatch(self.service_name):
            yield (
                "service_name must be at most 49 lowercase letters, digits or '-', starting "
                f"with a letter, got {self.service_name!r}"
            )
        if not 1 <= self.container_port <= 65535:
            yield f"container_port out of range: {self.container_port}"
        if self.workers < 1:
            yield f"workers must be >= 1, got {self.workers}"
        if self.cpu not in CPUS:
            yield f"cpu must be one of {CPUS}, got {self.cpu!r}"
        if not MEMORY.fullmatch(self.memory):
            yield f"memory must look like 512Mi or 2Gi, got {self.memory!r}"
        if self.min_instances < 0:
            yield f"min_instances must be >= 0, got {self.min_instances}"
        if self.max_instances < max(self.min_instances, 1):
            yield f"max_instances ({self.max_instances}) must be >= min_instances and >= 1"
        if not 1 <= self.concurrency <= 1000:
            yield f"concurrency must be 1..1000, got {self.concurrency}"
        if not 1 <= self.request_timeout_seconds <= 3600:
            yield f"request_timeout_seconds must be 1..3600, got {self.request_timeout_seconds}"
        if not self.health_check_path.startswith("/"):
            yield f"health_check_path must start with '/', got {self.health_check_path!r}"
        if self.vpc_egress not in ("PRIVATE_RANGES_ONLY", "ALL_TRAFFIC"):
            yield f"vpc_egress must be PRIVATE_RANGES_ONLY or ALL_TRAFFIC, got {self.vpc_egress!r}"
        if self.invoker not in ("allUsers", "iam-disabled", "none"):
            yield f"invoker must be allUsers, iam-disabled or none, got {self.invoker!r}"
        if self.migrate_timeout_seconds < 1 or self.migrate_retries < 0:
            yield "migrate_timeout_seconds must be >= 1 and migrate_retries >= 0"
        yield from self._environment_problems()

    def _environment_problems(self) -> Iterator[str]:
        names = [*self.environment, *self.secret_environment]
        bad = sorted(n for n in names if not ENV_NAME.fullmatch(n))
        if bad:
            yield f"not environment variable names: {bad}"
        reserved = sorted(n for n in names if n in RESERVED_ENV)
        if reserved:
            yield f"variables set by Cloud Run itself: {reserved}"
        both = sorted(set(self.environment) & set(self.secret_environment))
        if both:
            yield f"variables both plain and secret: {both}"
        plain_secrets = sorted(
            n
            for n in [*self.environment, *self.jobs_environment]
            if n in SECRET_ONLY or n.endswith(SECRET_SUFFIXES)
        )
        if plain_secrets:
            yield f"these must come from Secret Manager (secret_environment): {plain_secrets}"
        not_read = sorted(set(self.jobs_environment) - JOB_VARIABLES)
        if not_read:
            yield f"jobs_environment: the jobs do not read {not_read}"
        if self.jobs_environment and not (self.migrate or self.maintain):
            yield "jobs_environment given but there is no job (migrate and maintain are off)"


def execution_token(image_ref: str) -> str:
    """A short, stable token per image: a new image means a new migration execution."""
    return hashlib.sha256(image_ref.encode()).hexdigest()[:TOKEN_LENGTH]


def serve_args(port: int, workers: int) -> list[str]:
    """`python` arguments of the app container (all interfaces: Cloud Run routes to the port)."""
    return ["-m", "service", "serve", "--host", "0.0.0.0", "--port", str(port),
            "--workers", str(workers)]  # fmt: skip


def _service_envs(
    args: CloudRunServiceArgs,
) -> list[gcp.cloudrunv2.ServiceTemplateContainerEnvArgs]:
    plain = [
        gcp.cloudrunv2.ServiceTemplateContainerEnvArgs(name=key, value=value)
        for key, value in sorted(args.environment.items())
    ]
    secret = [
        gcp.cloudrunv2.ServiceTemplateContainerEnvArgs(
            name=key,
            value_source=gcp.cloudrunv2.ServiceTemplateContainerEnvValueSourceArgs(
                secret_key_ref=gcp.cloudrunv2.ServiceTemplateContainerEnvValueSourceSecretKeyRefArgs(
                    secret=ref.secret, version=ref.version
                )
            ),
        )
        for key, ref in sorted(args.secret_environment.items())
    ]
    return plain + secret


def jobs_service_account(args: CloudRunServiceArgs) -> pulumi.Input[str]:
    """The account the jobs run as: their own when given, else the service's."""
    if args.jobs_service_account_email is not None:
        return args.jobs_service_account_email
    return args.service_account_email


def one_command_job(
    args: CloudRunServiceArgs,
    *,
    container: str,
    command: str,
    timeout_seconds: int,
    retries: int,
    labels: Mapping[str, str],
) -> gcp.cloudrunv2.JobTemplateArgs:
    """A job running `python -m service <command>` once, as the service runs: its image and its
    network path, as the jobs' account (`jobs_service_account`), with only the job's share of
    its environment and secrets (components/job_variables.py: the database, logging and
    retention settings) and the jobs' own variables over them."""
    return gcp.cloudrunv2.JobTemplateArgs(
        task_count=1,
        parallelism=1,
        labels=dict(labels),
        template=gcp.cloudrunv2.JobTemplateTemplateArgs(
            service_account=jobs_service_account(args),
            execution_environment="EXECUTION_ENVIRONMENT_GEN2",
            timeout=f"{timeout_seconds}s",
            max_retries=retries,
            vpc_access=gcp.cloudrunv2.JobTemplateTemplateVpcAccessArgs(
                egress=args.vpc_egress,
                network_interfaces=[
                    gcp.cloudrunv2.JobTemplateTemplateVpcAccessNetworkInterfaceArgs(
                        network=args.network,
                        subnetwork=args.subnetwork,
                        tags=list(args.network_tags) or None,
                    )
                ],
            ),
            containers=[
                gcp.cloudrunv2.JobTemplateTemplateContainerArgs(
                    name=container,
                    image=args.image_ref,
                    commands=["python"],
                    args=["-m", "service", command],
                    envs=_job_envs(args),
                    resources=gcp.cloudrunv2.JobTemplateTemplateContainerResourcesArgs(
                        limits={"cpu": "1", "memory": "512Mi"}
                    ),
                )
            ],
        ),
    )


def _job_envs(
    args: CloudRunServiceArgs,
) -> list[gcp.cloudrunv2.JobTemplateTemplateContainerEnvArgs]:
    plain = [
        gcp.cloudrunv2.JobTemplateTemplateContainerEnvArgs(name=key, value=value)
        for key, value in sorted({**job_only(args.environment), **args.jobs_environment}.items())
    ]
    secret = [
        gcp.cloudrunv2.JobTemplateTemplateContainerEnvArgs(
            name=key,
            value_source=gcp.cloudrunv2.JobTemplateTemplateContainerEnvValueSourceArgs(
                secret_key_ref=gcp.cloudrunv2.JobTemplateTemplateContainerEnvValueSourceSecretKeyRefArgs(
                    secret=ref.secret, version=ref.version
                )
            ),
        )
        for key, ref in sorted(job_only(args.secret_environment).items())
    ]
    return plain + secret


def _probe_get(
    args: CloudRunServiceArgs,
) -> gcp.cloudrunv2.ServiceTemplateContainerStartupProbeHttpGetArgs:
    return gcp.cloudrunv2.ServiceTemplateContainerStartupProbeHttpGetArgs(
        path=args.health_check_path, port=args.container_port
    )


class CloudRunService(pulumi.ComponentResource):
    """Cloud Run v2 service (LB-only ingress, no default URL) + its migration job + invoker."""

    service_name: pulumi.Output[str]
    service_id: pulumi.Output[str]
    uri: pulumi.Output[str]
    migrate_job_name: pulumi.Output[str] | None
    maintain_job_name: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: CloudRunServiceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("awaterra:gcp:CloudRunService", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        service_name = args.service_name or name
        if not SERVICE_NAME.fullmatch(service_name):
            raise ValueError(f"CloudRunService: {service_name!r} is not a valid service name")
        labels = {"app": "awaterra", "component": name, **args.labels}

        depends_on: list[pulumi.Resource] = list(args.depends_on)
        revision_labels: dict[str, pulumi.Input[str]] = dict(labels)
        self.migrate_job_name = None
        migration: list[pulumi.Resource] = []
        if args.migrate:
            job = gcp.cloudrunv2.Job(
                f"{name}-migrate",
                name=f"{service_name[:JOB_NAME_PREFIX_LENGTH].rstrip('-')}-migrate",
                project=args.project,
                location=args.location,
                launch_stage=args.launch_stage,
                deletion_protection=args.deletion_protection,
                labels=labels,
                run_execution_token=pulumi.Output.from_input(args.image_ref).apply(execution_token),
                template=one_command_job(
                    args,
                    container="migrate",
                    command="migrate",
                    timeout_seconds=args.migrate_timeout_seconds,
                    retries=args.migrate_retries,
                    labels=labels,
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
            )
            depends_on.append(job)
            migration.append(job)
            # Read from the job's outputs: a data dependency, so the revision can only be
            # created after the job (and its execution) succeeded, and it names that execution.
            revision_labels["migrated"] = job.run_execution_token.apply(lambda t: t or "none")
            self.migrate_job_name = job.name

        self.maintain_job_name = None
        if args.maintain:
            from components.gcp.maintenance import MaintenanceJob, MaintenanceJobArgs

            maintenance = MaintenanceJob(
                f"{name}-maintenance",
                MaintenanceJobArgs(
                    service=args,
                    job_name=f"{service_name[:JOB_NAME_PREFIX_LENGTH].rstrip('-')}-maintain",
                    trigger_account_id=f"{service_name[:18].rstrip('-')}-maint-trigger",
                    schedule=args.maintain_schedule,
                ),
                # The schema the job maintains is the one the migration job creates.
                opts=pulumi.ResourceOptions(parent=self, depends_on=migration),
            )
            self.maintain_job_name = maintenance.job_name

        service = gcp.cloudrunv2.Service(
            f"{name}-service",
            name=service_name,
            project=args.project,
            location=args.location,
            description=f"{name}: the API, reachable only through its load balancer",
            ingress=INGRESS,
            default_uri_disabled=True,
            deletion_protection=args.deletion_protection,
            invoker_iam_disabled=args.invoker == "iam-disabled",
            launch_stage=args.launch_stage,
            labels=labels,
            template=gcp.cloudrunv2.ServiceTemplateArgs(
                service_account=args.service_account_email,
                execution_environment="EXECUTION_ENVIRONMENT_GEN2",
                timeout=f"{args.request_timeout_seconds}s",
                max_instance_request_concurrency=args.concurrency,
                labels=revision_labels,
                scaling=gcp.cloudrunv2.ServiceTemplateScalingArgs(
                    min_instance_count=args.min_instances,
                    max_instance_count=args.max_instances,
                ),
                vpc_access=gcp.cloudrunv2.ServiceTemplateVpcAccessArgs(
                    egress=args.vpc_egress,
                    network_interfaces=[
                        gcp.cloudrunv2.ServiceTemplateVpcAccessNetworkInterfaceArgs(
                            network=args.network,
                            subnetwork=args.subnetwork,
                            tags=list(args.network_tags) or None,
                        )
                    ],
                ),
                containers=[
                    gcp.cloudrunv2.ServiceTemplateContainerArgs(
                        name="app",
                        image=args.image_ref,
                        commands=["python"],
                        args=serve_args(args.container_port, args.workers),
                        ports=gcp.cloudrunv2.ServiceTemplateContainerPortsArgs(
                            name="http1", container_port=args.container_port
                        ),
                        envs=_service_envs(args),
                        resources=gcp.cloudrunv2.ServiceTemplateContainerResourcesArgs(
                            limits={"cpu": args.cpu, "memory": args.memory},
                            cpu_idle=not args.cpu_always_allocated,
                            startup_cpu_boost=args.startup_cpu_boost,
                        ),
                        startup_probe=gcp.cloudrunv2.ServiceTemplateContainerStartupProbeArgs(
                            http_get=_probe_get(args),
                            initial_delay_seconds=0,
                            period_seconds=5,
                            timeout_seconds=3,
                            failure_threshold=24,
                        ),
                        liveness_probe=gcp.cloudrunv2.ServiceTemplateContainerLivenessProbeArgs(
                            http_get=gcp.cloudrunv2.ServiceTemplateContainerLivenessProbeHttpGetArgs(
                                path=args.health_check_path, port=args.container_port
                            ),
                            period_seconds=15,
                            timeout_seconds=5,
                            failure_threshold=3,
                        ),
                    )
                ],
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )

        if args.invoker == "allUsers":
            gcp.cloudrunv2.ServiceIamMember(
                f"{name}-invoker",
                project=args.project,
                location=args.location,
                name=service.name,
                role=INVOKER_ROLE,
                member="allUsers",
                opts=child,
            )

        self.service_name = service.name
        self.service_id = service.id
        self.uri = service.uri
        self.register_outputs(
            {
                "service_name": self.service_name,
                "service_id": self.service_id,
                "uri": self.uri,
                "migrate_job_name": self.migrate_job_name,
                "maintain_job_name": self.maintain_job_name,
            }
        )
