"""The ECS container definitions of the service task, as plain functions of resolved values.

Two containers of our own, from the same image:
- `migrate` (`python -m service migrate`, essential: false) runs first and exits;
- `app` (`python -m service serve`) `dependsOn` it with condition `SUCCESS`.
ECS starts `app` only after `migrate` exited 0, and a task registers with the target group only
once `app` runs, so no task built from new code takes traffic before the schema is migrated. Every
new task runs the migration (rolling deploys and scale-outs start several at once); that is safe
because `migrate` is idempotent and serialises itself with a PostgreSQL advisory lock, so
concurrent runs wait and then find nothing to do. A failed migration stops the task before it
serves (PostgreSQL's transactional DDL leaves the schema as it was), the deployment circuit
breaker sees the failing tasks and rolls back to the previous task definition. Migrations must
stay backward compatible with the running release (expand, then contract in a later release),
because old tasks keep serving while new ones start.

The jobs (`migrate` here, `maintain` in its own task) get only the variables they read
(components/job_variables.py: the database parts and credentials, ENVIRONMENT, LOG_LEVEL, the
retention), never the panel's session key, the bucket or the issuer: `service` validates those
for `serve` alone.

Both run as a non-root user, with a read-only root filesystem (a writable task-scoped `/tmp`
volume only), every Linux capability dropped and an init process reaping children. The
environment is exactly the service contract's: database parts as plain variables, TLS required.
Who signs in (`iam_sign_in`, the stack's default): `app` as its own database user with RDS IAM
tokens (`DB_IAM_AUTH=aws`, no password exists), the jobs as the RDS master user, whose name and
password ECS injects from the RDS-managed secret's JSON keys (never in the task definition,
never in state); `migrate` creates the service's user and grants it row privileges only
(`DB_APP_ROLE`, service/grants.py). Without it, every container signs in as the master user.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from components.job_variables import job_only

APP = "app"
MIGRATE = "migrate"
MAINTAIN = "maintain"
TMP_VOLUME = "tmp"
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
ENVIRONMENTS = ("dev", "prod")
# The admin panel's variables (docs/admin.md): plain ones, and its session key from a secret.
ADMIN_VARIABLES = ("ADMIN_OIDC_CLIENT_ID", "ADMIN_BASE_URL", "ADMIN_LINKS")
ADMIN_SECRET_VARIABLE = "ADMIN_SESSION_KEY"  # noqa: S105 (a variable name, not a value)
# Every variable the service gives a meaning (docs/service.md); a plug-in may not set one
# (DATABASE_URL would silently take precedence over the injected parts).
CONTRACT_VARIABLES = frozenset(
    {"ENVIRONMENT", "DATABASE_URL", "DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD",
     "DB_SSLMODE", "DB_IAM_AUTH", "DB_APP_ROLE", "DB_APP_ROLE_IAM", "STORAGE_URL",
     "AUTH_JWKS_URL", "AUTH_ISSUER", "AUTH_AUDIENCE", "LOG_LEVEL", *ADMIN_VARIABLES,
     ADMIN_SECRET_VARIABLE}
)  # fmt: skip
# The service's own database user on AWS (created by `migrate`, signs in with IAM tokens).
APP_DB_USER = "awaterra_app"

def service_environment(
    *,
    environment: str,
    db_host: str,
    db_port: int | str,
    db_name: str,
    bucket_name: str,
    auth_jwks_url: str,
    auth_issuer: str,
    auth_audience: str,
    log_level: str,
) -> dict[str, str]:
    """The plain (non-secret) service variables (docs/service.md), by name."""
    if environment not in ENVIRONMENTS:
        raise ValueError(f"environment must be one of {ENVIRONMENTS}, got {environment!r}")
    if log_level not in LOG_LEVELS:
        raise ValueError(f"log_level must be one of {LOG_LEVELS}, got {log_level!r}")
    return {
        "ENVIRONMENT": environment,
        "DB_HOST": db_host,
        "DB_PORT": str(db_port),
        "DB_NAME": db_name,
        # RDS forces TLS (rds.force_ssl); the client requires it too, never falling back.
        "DB_SSLMODE": "require",
        "STORAGE_URL": f"s3://{bucket_name}",
        "AUTH_JWKS_URL": auth_jwks_url,
        "AUTH_ISSUER": auth_issuer,
        "AUTH_AUDIENCE": auth_audience,
        "LOG_LEVEL": log_level,
    }


def admin_environment(client_id: str, base_url: str, links: Mapping[str, str]) -> dict[str, str]:
    """The panel's plain variables; `links` become ADMIN_LINKS (label -> URL, as JSON)."""
    if not client_id:
        raise ValueError("admin_environment: the panel's OIDC client id is empty")
    if not base_url.startswith("https://") or base_url.count("/") != 2:
        raise ValueError(f"admin_environment: base_url must be an https origin, got {base_url!r}")
    return {
        "ADMIN_OIDC_CLIENT_ID": client_id,
        "ADMIN_BASE_URL": base_url,
        "ADMIN_LINKS": json.dumps(dict(sorted(links.items())), separators=(",", ":")),
    }


def database_secrets(master_secret_arn: str) -> dict[str, str]:
    """DB_USER / DB_PASSWORD from the JSON keys of the RDS-managed secret (`arn:key::`)."""
    return {
        "DB_USER": f"{master_secret_arn}:username::",
        "DB_PASSWORD": f"{master_secret_arn}:password::",
    }


@dataclass(frozen=True)
class DatabaseSignIn:
    """Who each container signs in as: (shared, app-only, job-only) variables and secrets."""

    secrets: Mapping[str, str]
    app_environment: Mapping[str, str]
    job_environment: Mapping[str, str]
    job_secrets: Mapping[str, str]


def database_sign_in(
    master_secret_arn: str, iam_sign_in: bool, app_user: str = APP_DB_USER
) -> DatabaseSignIn:
    """With IAM sign-in the service is `app_user` (RDS IAM tokens) and only the jobs receive the
    master secret; without it, every container signs in with the master secret."""
    master = database_secrets(master_secret_arn)
    if not iam_sign_in:
        return DatabaseSignIn(master, {}, {}, {})
    return DatabaseSignIn(
        secrets={},
        app_environment={"DB_USER": app_user, "DB_IAM_AUTH": "aws"},
        job_environment={"DB_APP_ROLE": app_user, "DB_APP_ROLE_IAM": "aws"},
        job_secrets=master,
    )


@dataclass(frozen=True)
class TaskContainers:
    """Everything the container definitions depend on, resolved."""

    image: str
    environment: Mapping[str, str]
    secrets: Mapping[str, str]
    log_group_name: str
    region: str
    log_stream_prefix: str
    container_port: int = 8000
    workers: int = 2
    user: str = "10001:10001"
    log_configuration: Mapping[str, Any] | None = None
    extra_containers: Sequence[Mapping[str, Any]] = field(default_factory=tuple)
    # Plug-ins for the app container only (Datadog: DD_* tracing settings, autodiscovery
    # labels, start after the agent/log router); they may add, never replace.
    app_environment: Mapping[str, str] = field(default_factory=dict)
    app_docker_labels: Mapping[str, str] = field(default_factory=dict)
    app_depends_on: Sequence[Mapping[str, str]] = field(default_factory=tuple)
    # Contract variables for `app` alone, and variables and secrets for the jobs alone, over the
    # shared ones (`database_sign_in`: the service and the jobs sign in as different users).
    app_only_environment: Mapping[str, str] = field(default_factory=dict)
    job_only_environment: Mapping[str, str] = field(default_factory=dict)
    job_only_secrets: Mapping[str, str] = field(default_factory=dict)

    def awslogs(self) -> dict[str, Any]:
        return {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": self.log_group_name,
                "awslogs-region": self.region,
                "awslogs-stream-prefix": self.log_stream_prefix,
                "mode": "non-blocking",
                "max-buffer-size": "4m",
            },
        }

    def _hardened(
        self, name: str, command: list[str], essential: bool, *, job: bool = False
    ) -> dict[str, Any]:
        environment, secrets = self._variables(job)
        return {
            "name": name,
            "image": self.image,
            "essential": essential,
            "command": command,
            "user": self.user,
            "readonlyRootFilesystem": True,
            "privileged": False,
            "linuxParameters": {"initProcessEnabled": True, "capabilities": {"drop": ["ALL"]}},
            "mountPoints": [
                {"sourceVolume": TMP_VOLUME, "containerPath": "/tmp", "readOnly": False}  # noqa: S108
            ],
            "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
            "secrets": [{"name": k, "valueFrom": v} for k, v in sorted(secrets.items())],
            "logConfiguration": dict(self.log_configuration or self.awslogs()),
        }

    def _variables(self, job: bool) -> tuple[dict[str, str], dict[str, str]]:
        """(plain, secret) variables of `app` or of a job."""
        if job:
            return (
                job_only({**self.environment, **self.job_only_environment}),
                job_only({**self.secrets, **self.job_only_secrets}),
            )
        return {**self.environment, **self.app_only_environment}, dict(self.secrets)

    def definitions(self) -> list[dict[str, Any]]:
        for job in (False, True):
            environment, secrets = self._variables(job)
            overlap = set(environment) & set(secrets)
            if overlap:
                raise ValueError(f"variables both plain and secret: {sorted(overlap)}")
        app_plain, app_secret = self._variables(job=False)
        shadowed = set(self.app_environment) & (
            set(app_plain) | set(app_secret) | CONTRACT_VARIABLES
        )
        if shadowed:
            raise ValueError(
                f"app_environment may not replace contract variables: {sorted(shadowed)}"
            )
        names = [str(c.get("name", "")) for c in self.extra_containers]
        clash = {APP, MIGRATE} & set(names)
        if clash or "" in names or len(set(names)) != len(names):
            raise ValueError(f"extra containers need unique names other than app/migrate: {names}")
        migrate = self._hardened(
            MIGRATE, ["python", "-m", "service", "migrate"], essential=False, job=True
        )
        app = self._hardened(
            APP,
            ["python", "-m", "service", "serve", "--host", "0.0.0.0",
             "--port", str(self.container_port), "--workers", str(self.workers)],
            essential=True,
        )  # fmt: skip
        app["portMappings"] = [{"containerPort": self.container_port, "protocol": "tcp"}]
        app["dependsOn"] = [
            {"containerName": MIGRATE, "condition": "SUCCESS"},
            *(dict(d) for d in self.app_depends_on),
        ]
        if self.app_environment:
            merged = {**app_plain, **self.app_environment}
            app["environment"] = [{"name": k, "value": v} for k, v in sorted(merged.items())]
        if self.app_docker_labels:
            app["dockerLabels"] = dict(self.app_docker_labels)
        return [migrate, app, *(dict(c) for c in self.extra_containers)]

    def maintenance_definitions(self) -> list[dict[str, Any]]:
        """The scheduled maintenance task (components/aws/maintenance.py): one container,
        `python -m service maintain`, hardened like the others, with the job's share of the
        environment and secrets (the database's). It runs after a release's `migrate` has (it
        never migrates)."""
        maintain = self._hardened(
            MAINTAIN, ["python", "-m", "service", "maintain"], essential=True, job=True
        )
        # The task has no log router sidecar: it always writes straight to the log group.
        maintain["logConfiguration"] = self.awslogs()
        return [maintain]
