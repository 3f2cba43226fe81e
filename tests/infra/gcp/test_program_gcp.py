"""The whole program for the Google Cloud stacks (gcp-dev, gcp-prod) under mocks, from the real
stack files: every provider function answered (an unanswered one raises UnansweredInvoke and
fails the run), and the properties that matter asserted on the recorded inputs of the stack.
"""

from __future__ import annotations

from typing import Any

import pytest

from components.gcp.cloud_run import INGRESS
from components.settings import SettingsError, StackSettings, load_settings
from components.stack_outputs import OUTPUT_NAMES
from ops.cost import estimate
from ops.offline import RecordedResource, Recording, run_program

SQL = "gcp:sql/databaseInstance:DatabaseInstance"
RUN = "gcp:cloudrunv2/service:Service"
JOB = "gcp:cloudrunv2/job:Job"
BUCKET = "gcp:storage/bucket:Bucket"
BUCKET_IAM = "gcp:storage/bucketIAMMember:BucketIAMMember"
SA = "gcp:serviceaccount/account:Account"
GCP_DEV_TARGET = 60.0
# gcp-prod turns Datadog on: its keys are set as secrets per stack, never in the stack file.
DATADOG_KEYS = {"datadogApiKey": "k", "datadogAppKey": "a"}


@pytest.fixture(scope="module")
def gcp_dev() -> Recording:
    return run_program("gcp-dev")


@pytest.fixture(scope="module")
def gcp_prod() -> Recording:
    return run_program("gcp-prod", DATADOG_KEYS)


@pytest.fixture(params=["gcp_dev", "gcp_prod"])
def stack(request: pytest.FixtureRequest) -> Recording:
    recording: Recording = request.getfixturevalue(request.param)
    return recording


def sql_settings(recording: Recording) -> dict[str, Any]:
    settings: dict[str, Any] = recording.one(SQL).inputs["settings"]
    return settings


def envs(resource: RecordedResource) -> dict[str, Any]:
    template = resource.inputs["template"]
    if resource.type == JOB:
        template = template["template"]
    (container,) = template["containers"]
    return {env["name"]: env.get("value", env.get("valueSource")) for env in container["envs"]}


def sa_email(recording: Recording, name: str = "api-identity") -> str:
    account = recording.one(SA, name)
    return f"{account.inputs['accountId']}@{account.inputs['project']}.iam.gserviceaccount.com"


def owner_email(recording: Recording) -> str:
    return sa_email(recording, "schema-owner")


def db_user_of(email: str) -> str:
    return email.removesuffix(".gserviceaccount.com")


def media(recording: Recording) -> RecordedResource:
    return recording.one(BUCKET, "media")


def test_only_google_cloud_resources_are_created(stack: Recording) -> None:
    # Datadog's objects live in Datadog (gcp-prod), providers are the engine's.
    native = ("gcp:", "docker:", "datadog:", "pulumi:providers:")
    foreign = {r.type for r in stack if r.custom and not r.type.startswith(native)}
    assert foreign == set()
    assert (
        stack.one(RUN) and stack.one(SQL) and stack.one("gcp:compute/securityPolicy:SecurityPolicy")
    )


def test_cloud_sql_has_no_public_ip_and_sits_on_the_stack_network(stack: Recording) -> None:
    ip = sql_settings(stack)["ipConfiguration"]
    assert ip["ipv4Enabled"] is False
    assert not ip.get("authorizedNetworks")
    assert ip["sslMode"] == "ENCRYPTED_ONLY"
    assert ip["privateNetwork"] == stack.one("gcp:compute/network:Network").id


def test_cloud_run_is_reachable_through_the_load_balancer_only(stack: Recording) -> None:
    service = stack.one(RUN)
    assert service.inputs["ingress"] == INGRESS == "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
    assert service.inputs["defaultUriDisabled"] is True
    neg = stack.one("gcp:compute/regionNetworkEndpointGroup:RegionNetworkEndpointGroup")
    assert neg.inputs["cloudRun"]["service"] == "awaterra-api"
    backend = stack.one("gcp:compute/backendService:BackendService")
    assert backend.inputs["securityPolicy"].endswith("/securityPolicies/edge-armor")


def test_service_and_migration_job_get_the_wired_environment(stack: Recording) -> None:
    email = sa_email(stack)
    bucket = media(stack)
    identity_project = stack.config["gcp:project"]
    expected = {
        "ENVIRONMENT": stack.config["awaterra:environment"],
        "DB_HOST": "10.100.0.3",  # the instance's private IP (the mock's answer)
        "DB_NAME": "awaterra",
        "DB_USER": email.removesuffix(".gserviceaccount.com"),
        "DB_IAM_AUTH": "gcp",
        "DB_SSLMODE": "require",
        "STORAGE_URL": f"gs://{bucket.inputs['name']}",
        "AUTH_ISSUER": f"https://securetoken.google.com/{identity_project}",
        "AUTH_AUDIENCE": identity_project,
        "AUTH_JWKS_URL": (
            "https://www.googleapis.com/service_accounts/v1/jwk/"
            "securetoken@system.gserviceaccount.com"
        ),
    }
    service = envs(stack.one(RUN))
    assert {k: service.get(k) for k in expected} == expected
    # The jobs read the database settings alone (least privilege: no bucket, no issuer), and
    # sign in as the schema's owner, granting the service's own user its rows.
    serving_only = {"STORAGE_URL", "AUTH_ISSUER", "AUTH_AUDIENCE", "AUTH_JWKS_URL"}
    database = {k: v for k, v in expected.items() if k not in serving_only}
    jobs = {
        **database,
        "DB_POOL_SIZE": service["DB_POOL_SIZE"],
        "DB_USER": db_user_of(owner_email(stack)),
        "DB_APP_ROLE": db_user_of(email),
    }
    for job in (stack.one(JOB, "migrate"), stack.one(JOB, "maintenance")):
        assert envs(job) == jobs, job.name
        assert job.inputs["template"]["template"]["serviceAccount"] == owner_email(stack)
    for resource in (stack.one(RUN), stack.one(JOB, "migrate"), stack.one(JOB, "maintenance")):
        env = envs(resource)
        assert "DB_PASSWORD" not in env and "DATABASE_URL" not in env
    assert stack.one(RUN).inputs["template"]["serviceAccount"] == email


def test_no_secret_manager_secret_and_no_database_password(stack: Recording) -> None:
    assert not [r for r in stack if r.type.startswith("gcp:secretmanager/")]
    instance = stack.one(SQL)
    assert "rootPassword" not in instance.inputs
    users = stack.of_type("gcp:sql/user:User")
    assert [u.inputs["type"] for u in users] == ["CLOUD_IAM_SERVICE_ACCOUNT"] * 2
    assert {u.inputs["name"] for u in users} == {
        envs(stack.one(RUN))["DB_USER"],
        envs(stack.one(JOB, "migrate"))["DB_USER"],
    }
    flags = {f["name"]: f["value"] for f in sql_settings(stack)["databaseFlags"]}
    assert flags["cloudsql.iam_authentication"] == "on"


def test_bucket_iam_is_the_service_account_alone(stack: Recording) -> None:
    bucket = media(stack)
    members = [m for m in stack.of_type(BUCKET_IAM) if m.inputs["bucket"] == bucket.inputs["name"]]
    assert [(m.inputs["member"], m.inputs["role"]) for m in members] == [
        (f"serviceAccount:{sa_email(stack)}", "roles/storage.objectAdmin")
    ]
    for other in stack.of_type(BUCKET_IAM):
        assert "allUsers" not in other.inputs["member"]
        assert "allAuthenticatedUsers" not in other.inputs["member"]
    assert bucket.inputs["publicAccessPrevention"] == "enforced"
    assert bucket.inputs["uniformBucketLevelAccess"] is True


def test_the_jobs_account_owns_the_schema_and_nothing_the_service_has(stack: Recording) -> None:
    service, owner = sa_email(stack), owner_email(stack)
    assert service != owner
    users = {u.inputs["name"]: u for u in stack.of_type("gcp:sql/user:User")}
    # Only the owner may change the schema; the service's user holds no database role at all
    # (`migrate` grants it row privileges: service/grants.py).
    assert users[db_user_of(owner)].inputs["databaseRoles"] == ["cloudsqlsuperuser"]
    assert not users[db_user_of(service)].inputs.get("databaseRoles")

    def grants_of(email: str) -> set[str]:
        member = f"serviceAccount:{email}"
        found = set()
        for resource in stack:
            if resource.inputs.get("member") == member:
                found.add(f"{resource.type} {resource.inputs['role']}")
        return found

    owner_grants = grants_of(owner)
    # Telemetry and IAM database sign-in; no bucket, no secret, no signing, no invoker.
    assert not [g for g in owner_grants if "storage" in g or "secretmanager" in g]
    assert not [g for g in owner_grants if "serviceAccountTokenCreator" in g]
    assert not [g for g in owner_grants if "run.invoker" in g]
    assert "gcp:projects/iAMMember:IAMMember roles/logging.logWriter" in owner_grants
    # Cloud SQL sign-in only through the instance-conditioned grant below, no project-wide role.
    owner_sql = [
        r
        for r in stack.of_type("gcp:projects/iAMMember:IAMMember")
        if r.inputs["member"] == f"serviceAccount:{owner}" and "cloudsql" in r.inputs["role"]
    ]
    assert [(r.inputs["role"], bool(r.inputs.get("condition"))) for r in owner_sql] == [
        ("roles/cloudsql.instanceUser", True)
    ]
    # The service keeps its own: the bucket and signing for itself.
    service_grants = grants_of(service)
    assert "gcp:storage/bucketIAMMember:BucketIAMMember roles/storage.objectAdmin" in service_grants
    assert (
        "gcp:serviceaccount/iAMMember:IAMMember roles/iam.serviceAccountTokenCreator"
        in service_grants
    )
    # Both may sign in to this instance only.
    logins = [
        r
        for r in stack.of_type("gcp:projects/iAMMember:IAMMember")
        if r.inputs["role"] == "roles/cloudsql.instanceUser" and r.inputs.get("condition")
    ]
    assert {r.inputs["member"] for r in logins} == {
        f"serviceAccount:{service}",
        f"serviceAccount:{owner}",
    }
    instance = stack.one(SQL).inputs["name"]
    for login in logins:
        assert f"/instances/{instance}" in login.inputs["condition"]["expression"]


def test_backups_and_objects_live_in_a_second_region(stack: Recording) -> None:
    backup = sql_settings(stack)["backupConfiguration"]
    assert backup["enabled"] and backup["pointInTimeRecoveryEnabled"]
    assert backup["location"] == stack.config["awaterra:gcpBackupLocation"]
    assert backup["location"] != stack.config["gcp:region"]
    placement = media(stack).inputs["customPlacementConfig"]["dataLocations"]
    assert placement == ["EUROPE-WEST1", "EUROPE-WEST4"]


def test_prod_is_regional_protected_and_always_on(gcp_prod: Recording) -> None:
    settings = sql_settings(gcp_prod)
    instance = gcp_prod.one(SQL)
    assert settings["availabilityType"] == "REGIONAL"
    assert instance.inputs["deletionProtection"] is True
    assert settings["deletionProtectionEnabled"] is True
    assert settings["tier"].startswith("db-custom-")
    retention = settings["backupConfiguration"]["backupRetentionSettings"]["retainedBackups"]
    assert retention >= 14
    assert settings["backupConfiguration"]["transactionLogRetentionDays"] == 7
    service = gcp_prod.one(RUN)
    assert service.inputs["template"]["scaling"]["minInstanceCount"] >= 2
    assert service.inputs["deletionProtection"] is True
    logs = gcp_prod.one(BUCKET, "logs")
    assert media(gcp_prod).inputs["logging"]["logBucket"] == logs.inputs["name"]
    assert media(gcp_prod).inputs["forceDestroy"] is False
    assert gcp_prod.one("gcp:compute/subnetwork:Subnetwork", "west1-run")


def test_dev_takes_only_the_cheaper_opt_outs(gcp_dev: Recording) -> None:
    settings = sql_settings(gcp_dev)
    assert settings["availabilityType"] == "ZONAL"
    assert settings["tier"] == "db-f1-micro"
    assert gcp_dev.one(SQL).inputs["deletionProtection"] is False
    assert gcp_dev.one(RUN).inputs["template"]["scaling"]["minInstanceCount"] == 0
    assert [b.name for b in gcp_dev.of_type(BUCKET)] == ["media-bucket"]
    assert not media(gcp_dev).inputs.get("logging")
    # What dev keeps: private IP, IAM sign-in, TLS, backups with PITR, Cloud Armor.
    assert settings["ipConfiguration"]["ipv4Enabled"] is False
    assert settings["backupConfiguration"]["pointInTimeRecoveryEnabled"] is True


def test_every_stack_exports_the_same_output_names() -> None:
    names = {}
    for name, config in (
        ("dev", None),
        ("prod", {"datadogApiKey": "k", "datadogAppKey": "a"}),
        ("gcp-dev", None),
        ("gcp-prod", DATADOG_KEYS),
    ):
        names[name] = tuple(sorted(run_program(name, config).outputs))
    assert set(names.values()) == {tuple(sorted(OUTPUT_NAMES))}, names


def test_gcp_outputs_point_at_the_stack(gcp_prod: Recording) -> None:
    outputs = gcp_prod.outputs
    assert outputs["api_url"] == "https://api.example.com"
    assert outputs["heartbeat_url"] == "https://api.example.com/heartbeat"
    assert outputs["bucket_name"] == media(gcp_prod).inputs["name"]
    assert outputs["region"] == "europe-west1" and outputs["backup_copy_region"] == "europe-west4"
    assert outputs["image_ref"].split("@sha256:")[0].startswith("europe-west1-docker.pkg.dev/")
    assert outputs["dashboard_url"].startswith("https://app.datadoghq.com/dashboard/")
    assert outputs["database_secret_arn"] is None


def test_gcp_dev_stays_within_its_monthly_target(gcp_dev: Recording) -> None:
    result = estimate("gcp-dev", gcp_dev.resources, environment="dev")
    assert 0 < result.total <= GCP_DEV_TARGET
    assert result.prices_as_of.startswith("2025-01 (Google Cloud list prices")


def test_gcp_prod_cost_counts_high_availability_twice(gcp_prod: Recording) -> None:
    result = estimate("gcp-prod", gcp_prod.resources, environment="prod")
    vcpu = next(i for i in result.items if i.what.endswith(": 2 vCPU"))
    assert vcpu.monthly == pytest.approx(2 * 730 * 0.0413 * 2, abs=0.01)
    run_cpu = next(i for i in result.items if i.type == RUN and "vCPU" in i.what)
    assert run_cpu.quantity == 2 * 730
    assert result.total > 3 * estimate("gcp-dev", run_program("gcp-dev").resources).total


# --- settings of gcp stacks


def settings_for(stack: str, overrides: dict[str, str]) -> StackSettings:
    captured: list[StackSettings] = []
    run_program(stack, overrides, program=lambda: captured.append(load_settings()))
    return captured[0]


def problems_for(stack: str, overrides: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as raised:
        settings_for(stack, overrides)
    return "\n".join(raised.value.problems)


def test_gcp_settings_are_read_from_the_stack_file() -> None:
    settings = settings_for("gcp-prod", DATADOG_KEYS)
    assert settings.cloud == "gcp" and settings.gcp is not None
    assert settings.gcp.project == "awaterra-prod" and settings.region == "europe-west1"
    assert settings.gcp.backup_location == "europe-west4"
    assert settings_for("dev", {}).cloud == "aws" and settings_for("dev", {}).gcp is None


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"gcp:project": "Awaterra"}, "gcp:project must be a project id"),
        ({"gcp:project": "abc"}, "gcp:project must be a project id"),
        ({"gcp:project": ""}, "gcp:project is required"),
        ({"gcp:region": "europe_west1"}, "gcp:region must be a region like europe-west1"),
        ({"gcpDnsZone": "Example.com."}, "awaterra:gcpDnsZone must be the name of a Cloud DNS"),
        ({"gcpBackupLocation": "us-east1"}, "awaterra:gcpBackupLocation must be another region"),
        ({"gcpBackupLocation": "europe-west1"}, "awaterra:gcpBackupLocation must be another"),
        ({"dbTier": "db.t4g.micro"}, "awaterra:dbTier must be a Cloud SQL tier"),
        ({"dbTier": "db-f1-micro"}, "awaterra:dbTier must be a db-custom-* tier in prod"),
        ({"dbBackupRetentionDays": "7"}, "awaterra:dbBackupRetentionDays must be >= 14 in prod"),
        ({"serviceMinCount": "0"}, "awaterra:serviceMinCount must be >= 2 in prod"),
        ({"dbMultiAz": "false"}, "awaterra:dbMultiAz must be true in prod"),
        ({"bucketAccessLogs": "false"}, "awaterra:bucketAccessLogs must be true in prod"),
        ({"natMode": "per-az"}, "awaterra:natMode applies only to AWS stacks"),
        ({"wafEnabled": "true"}, "awaterra:wafEnabled applies only to AWS stacks"),
        ({"hostedZoneId": "Z0123456789ABCDEFGHIJ"}, "awaterra:hostedZoneId applies only to AWS"),
        ({"cloud": "azure"}, "awaterra:cloud must be one of aws, gcp, got 'azure'"),
    ],
)
def test_bad_gcp_values_fail_naming_the_key(overrides: dict[str, str], expected: str) -> None:
    problems = problems_for("gcp-prod", overrides)
    assert expected in problems, problems
    assert all(line.startswith(("awaterra:", "gcp:")) for line in problems.splitlines())


def test_gcp_keys_are_refused_on_aws_stacks() -> None:
    problems = problems_for("dev", {"dbTier": "db-f1-micro", "gcpDnsZone": "example-com"})
    assert "awaterra:dbTier applies only to Google Cloud stacks" in problems
    assert "awaterra:gcpDnsZone applies only to Google Cloud stacks" in problems


def test_the_gcp_placeholders_are_refused_by_a_real_run() -> None:
    captured: list[str] = []

    def program() -> None:
        try:
            load_settings(offline=False)
        except SettingsError as error:
            captured.extend(error.problems)

    run_program("gcp-dev", program=program)
    assert any("awaterra:gcpDnsZone is the stack file's placeholder" in p for p in captured)
    assert any("awaterra:domain is the stack file's placeholder" in p for p in captured)
