"""CloudRunService: LB-only ingress, no default URL, probes, secrets by reference, migration job."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.gcp.cloud_run import (
    CloudRunService,
    CloudRunServiceArgs,
    SecretEnv,
    execution_token,
)
from ops import offline
from ops.offline import Recording, run_program

PROJECT = "awaterra-prod"
IMAGE = f"europe-west1-docker.pkg.dev/{PROJECT}/api/service@sha256:{'a' * 64}"
SA = f"api-prod@{PROJECT}.iam.gserviceaccount.com"
NETWORK = f"projects/{PROJECT}/global/networks/main"
SUBNET = f"projects/{PROJECT}/regions/europe-west1/subnetworks/service"
DB_SECRET = f"projects/{PROJECT}/secrets/db-password"
SERVICE = "gcp:cloudrunv2/service:Service"
JOB = "gcp:cloudrunv2/job:Job"
INVOKER = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
ENV = {"ENVIRONMENT": "prod", "DB_HOST": "10.20.0.3", "DB_NAME": "awaterra", "LOG_LEVEL": "info"}


def _args(**overrides: Any) -> CloudRunServiceArgs:
    values: dict[str, Any] = {
        "project": PROJECT,
        "location": "europe-west1",
        "image_ref": IMAGE,
        "service_account_email": SA,
        "network": NETWORK,
        "subnetwork": SUBNET,
        "deletion_protection": True,
        "environment": ENV,
        "secret_environment": {"DB_PASSWORD": SecretEnv(DB_SECRET, "3")},
        **overrides,
    }
    return CloudRunServiceArgs(**values)


def _run(args: CloudRunServiceArgs) -> Recording:
    def program() -> None:
        service = CloudRunService("api", args)
        pulumi.export("uri", service.uri)
        pulumi.export("service_name", service.service_name)

    return run_program("prod", program=program, use_stack_file=False)


@pytest.fixture(scope="module")
def recording() -> Recording:
    return _run(_args())


def _container(recording: Recording) -> dict[str, Any]:
    containers = recording.one(SERVICE).inputs["template"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def test_only_the_load_balancer_reaches_the_service(recording: Recording) -> None:
    service = recording.one(SERVICE).inputs
    assert service["ingress"] == "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
    assert service["defaultUriDisabled"] is True
    assert service["name"] == "api"
    assert service["location"] == "europe-west1"
    assert service["launchStage"] == "GA"


def test_deletion_protection_is_always_explicit(recording: Recording) -> None:
    assert recording.one(SERVICE).inputs["deletionProtection"] is True
    assert recording.one(JOB, "migrate").inputs["deletionProtection"] is True
    off = _run(_args(deletion_protection=False))
    assert off.one(SERVICE).inputs["deletionProtection"] is False
    assert off.one(JOB, "migrate").inputs["deletionProtection"] is False


def test_image_by_digest_service_account_and_gen2(recording: Recording) -> None:
    template = recording.one(SERVICE).inputs["template"]
    assert template["serviceAccount"] == SA
    assert template["executionEnvironment"] == "EXECUTION_ENVIRONMENT_GEN2"
    assert _container(recording)["image"] == IMAGE


def test_scaling_port_and_resources(recording: Recording) -> None:
    template = recording.one(SERVICE).inputs["template"]
    assert template["scaling"] == {"minInstanceCount": 1, "maxInstanceCount": 4}
    assert template["maxInstanceRequestConcurrency"] == 80
    container = _container(recording)
    assert container["ports"] == {"name": "http1", "containerPort": 8000}
    assert container["resources"] == {
        "limits": {"cpu": "1", "memory": "1Gi"},
        "cpuIdle": False,
        "startupCpuBoost": True,
    }
    assert container["commands"] == ["python"]
    assert container["args"] == [
        "-m",
        "service",
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        "8000",
        "--workers",
        "2",
    ]


def test_startup_and_liveness_probes_hit_heartbeat(recording: Recording) -> None:
    container = _container(recording)
    for probe in ("startupProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/heartbeat", "port": 8000}
    assert (
        container["startupProbe"]["periodSeconds"] * container["startupProbe"]["failureThreshold"]
        == 120
    )


def test_secrets_are_references_never_values(recording: Recording) -> None:
    envs = {e["name"]: e for e in _container(recording)["envs"]}
    assert envs["DB_PASSWORD"] == {
        "name": "DB_PASSWORD",
        "valueSource": {"secretKeyRef": {"secret": DB_SECRET, "version": "3"}},
    }
    assert {n: e["value"] for n, e in envs.items() if "value" in e} == ENV


def test_direct_vpc_egress_to_private_ranges_only(recording: Recording) -> None:
    for resource, template in (
        (recording.one(SERVICE), lambda i: i["template"]),
        (recording.one(JOB, "migrate"), lambda i: i["template"]["template"]),
    ):
        vpc = template(resource.inputs)["vpcAccess"]
        assert vpc == {
            "egress": "PRIVATE_RANGES_ONLY",
            "networkInterfaces": [{"network": NETWORK, "subnetwork": SUBNET}],
        }
        assert "connector" not in vpc


def test_migration_job_runs_before_the_service_changes(recording: Recording) -> None:
    job = recording.one(JOB, "migrate")
    assert job.inputs["name"] == "api-migrate"
    assert job.inputs["runExecutionToken"] == execution_token(IMAGE)
    assert len(job.inputs["name"]) + len(job.inputs["runExecutionToken"]) < 63
    template = job.inputs["template"]["template"]
    assert template["serviceAccount"] == SA
    assert template["maxRetries"] == 0
    (container,) = template["containers"]
    assert container["image"] == IMAGE
    assert container["commands"] == ["python"]
    assert container["args"] == ["-m", "service", "migrate"]
    envs = {e["name"]: e for e in container["envs"]}
    assert envs["DB_PASSWORD"]["valueSource"]["secretKeyRef"]["secret"] == DB_SECRET
    assert envs["DB_HOST"]["value"] == "10.20.0.3"
    # The service waits for the job (whose update waits for the execution to succeed).
    service = recording.one(SERVICE)
    dependencies = {urn for urns in service.property_dependencies.values() for urn in urns}
    assert job.urn in dependencies
    assert job.urn in service.property_dependencies["template"]
    assert service.inputs["template"]["labels"]["migrated"] == execution_token(IMAGE)


def test_explicit_dependencies_reach_the_job_and_the_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from components.gcp.service_account import ServiceIdentity, ServiceIdentityArgs

    # The recording keeps property dependencies only; note resource-level ones here.
    seen: dict[str, set[str]] = {}
    register = offline._LinkRecordingMonitor.RegisterResource

    def spy(self: Any, request: Any) -> Any:
        seen[request.name] = set(request.dependencies)
        return register(self, request)

    monkeypatch.setattr(offline._LinkRecordingMonitor, "RegisterResource", spy)

    def program() -> None:
        identity = ServiceIdentity(
            "id",
            ServiceIdentityArgs(project=PROJECT, account_id="api-prod", secret_ids=[DB_SECRET]),
        )
        CloudRunService("api", _args(depends_on=[identity]))

    recording = run_program("prod", program=program, use_stack_file=False)
    # A component dependency expands to the component's children.
    account = recording.one("gcp:serviceaccount/account:Account", "id-sa").urn
    grant = recording.one("gcp:secretmanager/secretIamMember:SecretIamMember").urn
    for name in ("api-migrate", "api-service"):
        assert {account, grant} <= seen[name], name
    assert recording.one(JOB, "migrate").urn in seen["api-service"]


def test_a_new_image_means_a_new_migration_execution() -> None:
    other = IMAGE.replace("a" * 64, "b" * 64)
    assert execution_token(other) != execution_token(IMAGE)
    assert len(execution_token(IMAGE)) == 12


def test_invoker_is_all_users_because_the_lb_carries_no_identity(recording: Recording) -> None:
    invoker = recording.one(INVOKER).inputs
    assert invoker == {
        "project": PROJECT,
        "location": "europe-west1",
        "name": "api",
        "role": "roles/run.invoker",
        "member": "allUsers",
    }
    assert recording.one(SERVICE).inputs["invokerIamDisabled"] is False


def test_invoker_iam_disabled_and_none() -> None:
    disabled = _run(_args(invoker="iam-disabled"))
    assert disabled.one(SERVICE).inputs["invokerIamDisabled"] is True
    assert disabled.of_type(INVOKER) == []
    none = _run(_args(invoker="none"))
    assert none.one(SERVICE).inputs["invokerIamDisabled"] is False
    assert none.of_type(INVOKER) == []


def test_outputs_and_parenting(recording: Recording) -> None:
    assert recording.outputs["service_name"] == "api"
    assert recording.outputs["uri"].endswith(".a.run.app")
    component = recording.one("awaterra:gcp:CloudRunService")
    maintenance = recording.one("awaterra:gcp:MaintenanceJob")
    assert maintenance.parent == component.urn
    assert all(r.parent in (component.urn, maintenance.urn) for r in recording if r.custom)


def test_opt_outs() -> None:
    recording = _run(
        _args(
            migrate=False,
            maintain=False,
            min_instances=0,
            max_instances=10,
            cpu_always_allocated=False,
            vpc_egress="ALL_TRAFFIC",
            network_tags=("api",),
            service_name="api-eu",
        )
    )
    assert recording.of_type(JOB) == []
    template = recording.one(SERVICE).inputs["template"]
    assert "migrated" not in template["labels"]
    assert template["scaling"] == {"minInstanceCount": 0, "maxInstanceCount": 10}
    assert template["vpcAccess"]["egress"] == "ALL_TRAFFIC"
    assert template["vpcAccess"]["networkInterfaces"][0]["tags"] == ["api"]
    assert template["containers"][0]["resources"]["cpuIdle"] is True
    assert recording.one(SERVICE).inputs["name"] == "api-eu"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"image_ref": "europe-west1-docker.pkg.dev/p/r/service:latest"}, "by digest"),
        ({"deletion_protection": None}, "deletion_protection must be given"),
        ({"service_name": "API"}, "service_name must be"),
        ({"min_instances": 3, "max_instances": 2}, "max_instances"),
        ({"cpu": "3"}, "cpu must be one of"),
        ({"memory": "1GB"}, "memory must look like"),
        ({"health_check_path": "heartbeat"}, "health_check_path must start"),
        ({"environment": {"PORT": "8000"}}, "set by Cloud Run itself"),
        ({"environment": {"DB_PASSWORD": "hunter2"}}, "must come from Secret Manager"),
        ({"environment": {"DATABASE_URL": "postgres://u:p@h/d"}}, "must come from Secret"),
        ({"environment": {"DD_API_KEY": "x"}}, "must come from Secret Manager"),
        (
            {"environment": {"DB_USER": "a"}, "secret_environment": {"DB_USER": SecretEnv("s")}},
            "both plain and secret",
        ),
        ({"environment": {"bad-name": "x"}}, "not environment variable names"),
        ({"invoker": "public"}, "invoker must be"),
        ({"vpc_egress": "PRIVATE"}, "vpc_egress must be"),
        ({"jobs_environment": {"STORAGE_URL": "gs://b"}}, "the jobs do not read"),
        ({"jobs_environment": {"DB_PASSWORD": "hunter2"}}, "must come from Secret Manager"),
        (
            {"jobs_environment": {"DB_USER": "o"}, "migrate": False, "maintain": False},
            "there is no job",
        ),
    ],
)
def test_bad_arguments_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _args(**overrides)


def test_secret_version_must_be_latest_or_a_number() -> None:
    with pytest.raises(ValueError, match="version must be 'latest' or a number"):
        SecretEnv(DB_SECRET, "v3")


def test_the_jobs_get_only_the_database_logging_and_retention_settings() -> None:
    """The service gets everything it is given; migrate and maintain only what they read, so a
    panel session key or the bucket handed to the service never reaches a job."""
    session_key = f"projects/{PROJECT}/secrets/admin-session-key"
    serving = {
        "STORAGE_URL": "gs://awaterra-media",
        "AUTH_ISSUER": "https://securetoken.google.com/awaterra-prod",
        "AUTH_AUDIENCE": "awaterra-prod",
        "AUTH_JWKS_URL": "https://www.googleapis.com/service_accounts/v1/jwk/x",
        "ADMIN_OIDC_CLIENT_ID": "panel",
    }
    recorded = _run(
        _args(
            environment={**ENV, **serving, "EVENT_RETENTION_DAYS": "90", "DB_SSLMODE": "require"},
            secret_environment={
                "DB_PASSWORD": SecretEnv(DB_SECRET, "3"),
                "ADMIN_SESSION_KEY": SecretEnv(session_key),
            },
        )
    )
    (app,) = recorded.one(SERVICE).inputs["template"]["containers"]
    assert {e["name"] for e in app["envs"]} >= {*serving, "ADMIN_SESSION_KEY"}
    for job in (recorded.one(JOB, "migrate"), recorded.one(JOB, "maintenance")):
        (container,) = job.inputs["template"]["template"]["containers"]
        envs = {e["name"]: e for e in container["envs"]}
        assert set(envs) == {"ENVIRONMENT", "DB_HOST", "DB_NAME", "LOG_LEVEL", "DB_SSLMODE",
                             "EVENT_RETENTION_DAYS", "DB_PASSWORD"}, job.name  # fmt: skip
        assert envs["DB_PASSWORD"]["valueSource"]["secretKeyRef"]["secret"] == DB_SECRET
        assert session_key not in str(container)


def test_the_jobs_may_run_as_an_account_of_their_own_with_their_own_user() -> None:
    """The schema owner's account and database user for migrate and maintain; the service keeps
    its own, and the jobs' variables never reach the service."""
    owner = f"schema-prod@{PROJECT}.iam.gserviceaccount.com"
    recorded = _run(
        _args(
            environment={**ENV, "DB_USER": "api-prod@awaterra-prod.iam"},
            jobs_service_account_email=owner,
            jobs_environment={
                "DB_USER": "schema-prod@awaterra-prod.iam",
                "DB_APP_ROLE": "api-prod@awaterra-prod.iam",
            },
        )
    )
    service = recorded.one(SERVICE).inputs["template"]
    assert service["serviceAccount"] == SA
    (app,) = service["containers"]
    service_envs = {e["name"]: e.get("value") for e in app["envs"]}
    assert service_envs["DB_USER"] == "api-prod@awaterra-prod.iam"
    assert "DB_APP_ROLE" not in service_envs
    for job in (recorded.one(JOB, "migrate"), recorded.one(JOB, "maintenance")):
        template = job.inputs["template"]["template"]
        assert template["serviceAccount"] == owner, job.name
        (container,) = template["containers"]
        envs = {e["name"]: e.get("value") for e in container["envs"]}
        assert envs["DB_USER"] == "schema-prod@awaterra-prod.iam"
        assert envs["DB_APP_ROLE"] == "api-prod@awaterra-prod.iam"
        assert envs["DB_HOST"] == ENV["DB_HOST"]
    # Without an account of their own, the jobs run as the service's.
    default = _run(_args())
    for job in (default.one(JOB, "migrate"), default.one(JOB, "maintenance")):
        assert job.inputs["template"]["template"]["serviceAccount"] == SA
