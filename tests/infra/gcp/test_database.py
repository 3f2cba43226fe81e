"""Database: Cloud SQL PostgreSQL 16, private IP, TLS-only, IAM sign-in, backed up elsewhere."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp
import pytest

from components.gcp.database import (
    DATABASE_FLAGS,
    Database,
    DatabaseArgs,
    default_max_connections,
    iam_user_name,
)
from components.postgres_settings import SERVER_SETTINGS
from ops.offline import Recording, run_program

INSTANCE = "gcp:sql/databaseInstance:DatabaseInstance"
SA = "awaterra-api@awaterra-prod.iam.gserviceaccount.com"
NETWORK = "projects/awaterra-prod/global/networks/awaterra-prod-net"


def build(**overrides: Any) -> Recording:
    def program() -> None:
        psa = pulumi.CustomResource(
            "gcp:servicenetworking/connection:Connection", "psa", {"network": NETWORK}
        )
        arguments: dict[str, Any] = {
            "region": "us-central1",
            "network_id": NETWORK,
            "psa_connection": psa,
            "service_account_email": SA,
            "backup_location": "us-east1",
            **overrides,
        }
        database = Database("db", DatabaseArgs(**arguments))
        pulumi.export("connection", database.connection_name)
        pulumi.export("ip", database.private_ip_address)
        pulumi.export("instance", database.instance_name)
        pulumi.export("user", database.iam_user_name)
        pulumi.export("database", database.database_name)
        if database.owner_iam_user_name is not None:
            pulumi.export("owner", database.owner_iam_user_name)

    return run_program("prod", program=program, use_stack_file=False)


@pytest.fixture(scope="module")
def secure() -> Recording:
    return build()


@pytest.fixture(scope="module")
def dev() -> Recording:
    return build(
        tier="db-f1-micro",
        availability_type="ZONAL",
        deletion_protection=False,
        retained_backups=3,
        transaction_log_retention_days=1,
        query_insights=False,
    )


def instance(recording: Recording, name: str = "db-instance") -> dict[str, Any]:
    return recording.one(INSTANCE, name).inputs


def settings(recording: Recording, name: str = "db-instance") -> dict[str, Any]:
    result: dict[str, Any] = instance(recording, name)["settings"]
    return result


def flags(recording: Recording, name: str = "db-instance") -> dict[str, str]:
    return {f["name"]: f["value"] for f in settings(recording, name)["databaseFlags"]}


def test_postgres_16_enterprise_edition_set_explicitly(secure: Recording) -> None:
    assert instance(secure)["databaseVersion"] == "POSTGRES_16"
    assert settings(secure)["edition"] == "ENTERPRISE"
    assert settings(secure)["tier"] == "db-custom-1-3840"
    assert instance(secure)["region"] == "us-central1"
    assert instance(secure)["name"] == "awaterra-prod-db"


def test_private_ip_only_in_the_network_and_tls_required(secure: Recording) -> None:
    ip = settings(secure)["ipConfiguration"]
    assert ip["ipv4Enabled"] is False
    assert ip["privateNetwork"] == NETWORK
    assert ip["sslMode"] == "ENCRYPTED_ONLY"
    assert ip["enablePrivatePathForGoogleCloudServices"] is False
    assert "authorizedNetworks" not in ip
    assert settings(secure)["dataApiAccess"] == "DISALLOW_DATA_API"
    assert secure.outputs["ip"] == "10.100.0.3"


def test_instance_waits_for_private_service_access(monkeypatch: pytest.MonkeyPatch) -> None:
    # `depends_on` is not a property dependency, so catch the options the instance gets.
    seen: dict[str, Any] = {}
    original = gcp.sql.DatabaseInstance.__init__

    def spy(self: Any, resource_name: str, *args: Any, **kwargs: Any) -> None:
        seen[resource_name] = kwargs.get("opts")
        original(self, resource_name, *args, **kwargs)

    monkeypatch.setattr(gcp.sql.DatabaseInstance, "__init__", spy)
    build()
    options = seen["db-instance"]
    (dependency,) = options.depends_on
    assert dependency._name == "psa"
    assert options.protect is True


def test_regional_availability_and_deletion_protection_on_both_levels(secure: Recording) -> None:
    assert settings(secure)["availabilityType"] == "REGIONAL"
    assert instance(secure)["deletionProtection"] is True
    assert settings(secure)["deletionProtectionEnabled"] is True
    assert settings(secure)["retainBackupsOnDelete"] is True


def test_backups_with_point_in_time_recovery_stored_in_another_region(secure: Recording) -> None:
    backup = settings(secure)["backupConfiguration"]
    assert backup["enabled"] is True
    assert backup["pointInTimeRecoveryEnabled"] is True
    assert backup["transactionLogRetentionDays"] == 7
    assert backup["backupRetentionSettings"] == {"retainedBackups": 14, "retentionUnit": "COUNT"}
    assert backup["location"] == "us-east1" != instance(secure)["region"]


def test_query_insights_without_client_addresses(secure: Recording) -> None:
    insights = settings(secure)["insightsConfig"]
    assert insights["queryInsightsEnabled"] is True
    assert insights["recordClientAddress"] is False


def test_logging_flags_of_cis_and_checkov_and_iam_authentication(secure: Recording) -> None:
    assert flags(secure) == {**DATABASE_FLAGS, **SERVER_SETTINGS}
    expected = {
        "cloudsql.iam_authentication": "on",
        "cloudsql.enable_pgaudit": "on",
        "log_checkpoints": "on",
        "log_connections": "on",
        "log_disconnections": "on",
        "log_lock_waits": "on",
        "log_hostname": "on",
        "log_statement": "ddl",
        "log_error_verbosity": "default",
        "log_min_messages": "warning",
        "log_min_error_statement": "error",
        "log_min_duration_statement": "-1",
        "log_temp_files": "0",
        "wal_compression": "lz4",
    }
    assert flags(secure) == expected


def test_extra_flags_add_or_override() -> None:
    recording = build(extra_flags={"log_statement": "mod", "max_connections": "200"})
    assert flags(recording)["log_statement"] == "mod"
    assert flags(recording)["max_connections"] == "200"
    assert flags(recording)["cloudsql.iam_authentication"] == "on"


def test_the_service_signs_in_with_iam_and_no_password_exists(secure: Recording) -> None:
    user = secure.one("gcp:sql/user:User").inputs
    assert user["type"] == "CLOUD_IAM_SERVICE_ACCOUNT"
    assert user["name"] == "awaterra-api@awaterra-prod.iam"
    assert user["instance"] == "awaterra-prod-db"
    assert user["databaseRoles"] == ["cloudsqlsuperuser"]
    keys = {key for r in secure.resources for key in r.inputs}
    assert not {"password", "passwordWo", "rootPassword", "rootPasswordWo"} & keys
    assert secure.outputs["user"] == "awaterra-api@awaterra-prod.iam"
    database = secure.one("gcp:sql/database:Database").inputs
    assert database == {"instance": "awaterra-prod-db", "name": "awaterra"}


def test_login_is_granted_on_this_instance_only(secure: Recording) -> None:
    grant = secure.one("gcp:projects/iAMMember:IAMMember").inputs
    assert grant["role"] == "roles/cloudsql.instanceUser"
    assert grant["member"] == f"serviceAccount:{SA}"
    # No project given: the provider's project, asked through getProject (answered offline).
    assert grant["project"] == "awaterra-offline"
    assert grant["condition"]["expression"] == (
        'resource.name == "projects/awaterra-offline/instances/awaterra-prod-db"'
        ' && resource.type == "sqladmin.googleapis.com/Instance"'
    )
    assert [token for token, _ in secure.invokes] == ["gcp:organizations/getProject:getProject"]


def test_a_schema_owner_of_its_own_leaves_the_service_no_database_role() -> None:
    owner = "awaterra-schema@awaterra-prod.iam.gserviceaccount.com"
    recording = build(owner_service_account_email=owner)
    users = {u.name: u.inputs for u in recording.of_type("gcp:sql/user:User")}
    assert users["db-owner-iam-user"]["name"] == "awaterra-schema@awaterra-prod.iam"
    assert users["db-owner-iam-user"]["databaseRoles"] == ["cloudsqlsuperuser"]
    assert users["db-owner-iam-user"]["type"] == "CLOUD_IAM_SERVICE_ACCOUNT"
    assert users["db-iam-user"]["name"] == "awaterra-api@awaterra-prod.iam"
    assert not users["db-iam-user"].get("databaseRoles")
    logins = recording.of_type("gcp:projects/iAMMember:IAMMember")
    assert sorted(g.inputs["member"] for g in logins) == [
        f"serviceAccount:{SA}",
        f"serviceAccount:{owner}",
    ]
    for login in logins:
        assert login.inputs["role"] == "roles/cloudsql.instanceUser"
        assert "/instances/awaterra-prod-db" in login.inputs["condition"]["expression"]
    assert recording.outputs["owner"] == "awaterra-schema@awaterra-prod.iam"


def test_outputs_for_the_service(secure: Recording) -> None:
    assert secure.outputs["connection"] == "awaterra-offline:us-central1:awaterra-prod-db"
    assert secure.outputs["instance"] == "awaterra-prod-db"
    assert secure.outputs["database"] == "awaterra"


def test_a_dev_stack_opts_out_explicitly(dev: Recording) -> None:
    assert settings(dev)["availabilityType"] == "ZONAL"
    assert settings(dev)["tier"] == "db-f1-micro"
    assert instance(dev)["deletionProtection"] is False
    assert settings(dev)["deletionProtectionEnabled"] is False
    assert settings(dev)["retainBackupsOnDelete"] is False
    backup = settings(dev)["backupConfiguration"]
    assert backup["backupRetentionSettings"]["retainedBackups"] == 3
    assert backup["transactionLogRetentionDays"] == 1
    assert settings(dev)["insightsConfig"]["queryInsightsEnabled"] is False
    # Still private, TLS-only, IAM sign-in, explicit edition.
    assert settings(dev)["ipConfiguration"]["ipv4Enabled"] is False
    assert settings(dev)["ipConfiguration"]["sslMode"] == "ENCRYPTED_ONLY"
    assert settings(dev)["edition"] == "ENTERPRISE"
    assert flags(dev)["cloudsql.iam_authentication"] == "on"


def test_no_backups_at_all_is_possible_but_explicit() -> None:
    recording = build(backups=False, point_in_time_recovery=False, backup_location="us-central1")
    backup = settings(recording)["backupConfiguration"]
    assert backup["enabled"] is False
    assert backup["pointInTimeRecoveryEnabled"] is False
    assert "location" not in backup


def test_an_explicit_project_skips_the_lookup() -> None:
    recording = build(project="awaterra-prod")
    assert recording.invokes == []
    assert recording.one("gcp:projects/iAMMember:IAMMember").inputs["project"] == "awaterra-prod"


def test_cross_region_replica_is_opt_in(secure: Recording) -> None:
    assert len(secure.of_type(INSTANCE)) == 1
    recording = build(replica_region="us-east1")
    replica = instance(recording, "db-replica")
    assert replica["masterInstanceName"] == "awaterra-prod-db"
    assert replica["region"] == "us-east1"
    assert replica["deletionProtection"] is True
    replica_settings = settings(recording, "db-replica")
    assert replica_settings["ipConfiguration"]["ipv4Enabled"] is False
    assert replica_settings["edition"] == "ENTERPRISE"
    assert "backupConfiguration" not in replica_settings


def test_client_certificates_are_an_opt_in_for_connector_users() -> None:
    recording = build(ssl_mode="TRUSTED_CLIENT_CERTIFICATE_REQUIRED")
    assert settings(recording)["ipConfiguration"]["sslMode"] == (
        "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"
    )


def test_user_name_from_an_output_email() -> None:
    def program() -> None:
        email = pulumi.Output.from_input(SA)
        database = Database(
            "db",
            DatabaseArgs(
                region="us-central1",
                network_id=NETWORK,
                service_account_email=email,
                backup_location="us",
                project="awaterra-prod",
            ),
        )
        pulumi.export("user", database.iam_user_name)

    recording = run_program("prod", program=program, use_stack_file=False)
    assert recording.outputs["user"] == "awaterra-api@awaterra-prod.iam"


def test_iam_user_name_strips_the_suffix_only() -> None:
    assert iam_user_name("svc-account@my-project.iam.gserviceaccount.com") == (
        "svc-account@my-project.iam"
    )
    with pytest.raises(ValueError, match="must be a project service account"):
        iam_user_name("someone@example.com")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"region": "central"}, "region 'central'"),
        ({"backup_location": "mars"}, "backup_location must be a region or a multi-region"),
        ({"backup_location": "us-central1"}, "backup_location must differ from region"),
        ({"tier": "n1-standard-1"}, "tier must be a Cloud SQL machine type"),
        ({"edition": "STANDARD"}, "edition must be one of"),
        ({"tier": "db-perf-optimized-N-2"}, "need edition ENTERPRISE_PLUS"),
        ({"edition": "ENTERPRISE_PLUS"}, "ENTERPRISE_PLUS needs a db-perf-optimized"),
        ({"tier": "db-g1-small"}, "shared-core tiers cannot be REGIONAL"),
        ({"availability_type": "MULTI"}, "availability_type must be one of"),
        ({"ssl_mode": "ALLOW_UNENCRYPTED_AND_ENCRYPTED"}, "ssl_mode must be one of"),
        ({"transaction_log_retention_days": 8}, r"transaction_log_retention_days must be 1\.\.7"),
        ({"retained_backups": 0}, "retained_backups"),
        ({"backups": False}, "point_in_time_recovery needs backups"),
        ({"database_name": "Awaterra"}, "database_name"),
        ({"disk_size_gb": 100}, "disk_size_gb"),
        ({"backup_start_time": "03:30"}, "backup_start_time"),
        ({"maintenance_day": 0}, "maintenance_day"),
        ({"replica_region": "us-central1"}, "replica_region must be another region"),
        ({"service_account_email": "me@example.com"}, "must be a project service account"),
        ({"owner_service_account_email": "me@example.com"}, "must be a project service account"),
        ({"owner_service_account_email": SA}, "must be another account"),
    ],
)
def test_bad_arguments_are_refused(overrides: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {
        "region": "us-central1",
        "network_id": NETWORK,
        "service_account_email": SA,
        "backup_location": "us-east1",
        **overrides,
    }
    with pytest.raises(ValueError, match=message):
        DatabaseArgs(**arguments)


def test_enterprise_plus_allows_longer_log_retention() -> None:
    args = DatabaseArgs(
        region="us-central1",
        network_id=NETWORK,
        service_account_email=SA,
        backup_location="us",
        edition="ENTERPRISE_PLUS",
        tier="db-perf-optimized-N-2",
        transaction_log_retention_days=14,
    )
    assert args.transaction_log_retention_days == 14


@pytest.mark.parametrize(
    ("tier", "expected"),
    [
        ("db-f1-micro", 25),
        ("db-g1-small", 50),
        ("db-custom-1-3840", 100),  # 3.75 GiB
        ("db-custom-1-6143", 100),  # just under 6 GiB
        ("db-custom-1-6144", 200),  # 6 GiB
        ("db-custom-2-7680", 400),  # 7.5 GiB
        ("db-custom-4-15360", 500),  # 15 GiB
        ("db-custom-8-30720", 600),  # 30 GiB
        ("db-custom-16-61440", 800),  # 60 GiB
        ("db-custom-32-122880", 1000),  # 120 GiB
        ("db-perf-optimized-N-2", 500),  # 16 GiB
    ],
)
def test_default_max_connections_follow_cloud_sqls_table(tier: str, expected: int) -> None:
    assert default_max_connections(tier) == expected
    edition = "ENTERPRISE_PLUS" if tier.startswith("db-perf") else "ENTERPRISE"
    availability = "ZONAL" if tier in ("db-f1-micro", "db-g1-small") else "REGIONAL"
    args = DatabaseArgs(
        region="us-central1",
        network_id=NETWORK,
        service_account_email=SA,
        backup_location="us-east1",
        tier=tier,
        edition=edition,
        availability_type=availability,
    )
    assert args.max_connections() == expected


def test_a_max_connections_flag_is_what_the_instance_gets() -> None:
    recording = build(tier="db-custom-2-7680", extra_flags={"max_connections": "250"})
    assert flags(recording)["max_connections"] == "250"
    args = DatabaseArgs(
        region="us-central1",
        network_id=NETWORK,
        service_account_email=SA,
        backup_location="us-east1",
        tier="db-custom-2-7680",
        extra_flags={"max_connections": "250"},
    )
    assert args.max_connections() == 250
    with pytest.raises(ValueError, match=r"max_connections must be 14\.\.262143"):
        DatabaseArgs(
            region="us-central1",
            network_id=NETWORK,
            service_account_email=SA,
            backup_location="us-east1",
            extra_flags={"max_connections": "lots"},
        )


def test_an_unknown_tier_has_no_default_max_connections() -> None:
    with pytest.raises(ValueError, match="no default max_connections known"):
        default_max_connections("db-n1-standard-1")
