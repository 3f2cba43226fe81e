"""Database: RDS PostgreSQL 16, encrypted, private, backed up, TLS-only, no password in state."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.aws.database import Database, DatabaseArgs, default_max_connections
from ops.offline import RecordedResource, Recording, run_program
from tests.infra.policy_helpers import statements

INSTANCE = "aws:rds/instance:Instance"
SUBNETS = ["subnet-private-a", "subnet-private-b"]


def build(**overrides: Any) -> Recording:
    def program() -> None:
        database = Database(
            "db", DatabaseArgs(subnet_ids=SUBNETS, security_group_id="sg-db", **overrides)
        )
        pulumi.export("secret", database.master_secret_arn)
        pulumi.export("address", database.address)
        pulumi.export("identifier", database.instance_identifier)
        pulumi.export("kms", database.kms_key_arn)

    return run_program("prod", program=program, use_stack_file=False)


@pytest.fixture(scope="module")
def secure() -> Recording:
    return build()


@pytest.fixture(scope="module")
def throwaway() -> Recording:
    return build(
        multi_az=False,
        backup_retention_days=1,
        deletion_protection=False,
        skip_final_snapshot=True,
        performance_insights=False,
        monitoring_interval=0,
    )


def instance(recording: Recording) -> dict[str, Any]:
    return recording.one(INSTANCE).inputs


def key(recording: Recording) -> RecordedResource:
    return recording.one("aws:kms/key:Key", "db-key")


def test_postgres_16_with_minor_upgrades(secure: Recording) -> None:
    inputs = instance(secure)
    assert inputs["engine"] == "postgres"
    assert inputs["engineVersion"] == "16"
    assert inputs["autoMinorVersionUpgrade"] is True


def test_data_secret_and_insights_encrypted_with_a_rotating_customer_key(
    secure: Recording,
) -> None:
    inputs = instance(secure)
    arn = key(secure).outputs["arn"]
    assert key(secure).inputs["enableKeyRotation"] is True
    assert inputs["storageEncrypted"] is True
    assert inputs["kmsKeyId"] == arn
    assert inputs["masterUserSecretKmsKeyId"] == arn
    assert inputs["performanceInsightsEnabled"] is True
    assert inputs["performanceInsightsKmsKeyId"] == arn
    assert secure.outputs["kms"] == arn


def test_key_policy_leaves_control_with_the_account_only(secure: Recording) -> None:
    (admin,) = statements(key(secure))
    assert admin["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}


def test_master_password_is_managed_by_rds_and_never_in_state(secure: Recording) -> None:
    inputs = instance(secure)
    assert inputs["manageMasterUserPassword"] is True
    assert "password" not in inputs
    assert "passwordWo" not in inputs
    assert secure.outputs["secret"].startswith("arn:aws:secretsmanager:")
    keys = {key for r in secure.resources for key in r.inputs}
    assert not {"password", "passwordWo", "masterPassword"} & keys


def test_private_subnets_only_and_not_publicly_accessible(secure: Recording) -> None:
    inputs = instance(secure)
    group = secure.one("aws:rds/subnetGroup:SubnetGroup")
    assert group.inputs["subnetIds"] == SUBNETS
    assert inputs["dbSubnetGroupName"] == group.inputs["name"]
    assert inputs["publiclyAccessible"] is False
    assert inputs["vpcSecurityGroupIds"] == ["sg-db"]


def test_secure_defaults_protect_prod_data(secure: Recording) -> None:
    inputs = instance(secure)
    assert inputs["multiAz"] is True
    assert inputs["backupRetentionPeriod"] >= 14  # point-in-time restore window
    assert inputs["deletionProtection"] is True
    assert inputs["skipFinalSnapshot"] is False
    assert inputs["finalSnapshotIdentifier"] == "awaterra-prod-db-final"
    assert inputs["deleteAutomatedBackups"] is False
    assert inputs["copyTagsToSnapshot"] is True


def test_parameter_group_forces_tls_and_logs_slow_queries(secure: Recording) -> None:
    group = secure.one("aws:rds/parameterGroup:ParameterGroup")
    assert group.inputs["family"] == "postgres16"
    parameters = {p["name"]: p["value"] for p in group.inputs["parameters"]}
    assert parameters["rds.force_ssl"] == "1"
    assert parameters["log_min_duration_statement"] == "500"
    # Full-page images compressed: an erasure's WAL (bench/run.py runs the same setting).
    assert parameters["wal_compression"] == "lz4"
    assert instance(secure)["parameterGroupName"] == group.inputs["name"]


def test_observability_logs_insights_and_enhanced_monitoring(secure: Recording) -> None:
    inputs = instance(secure)
    assert inputs["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    assert inputs["monitoringInterval"] == 60
    role = secure.one("aws:iam/role:Role", "monitoring")
    assert inputs["monitoringRoleArn"] == role.outputs["arn"]
    (trust,) = statements(role, "assumeRolePolicy")
    assert trust["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
    attachment = secure.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "monitoring")
    assert attachment.inputs["policyArn"].endswith("service-role/AmazonRDSEnhancedMonitoringRole")


def test_storage_autoscales_and_iam_auth_is_on(secure: Recording) -> None:
    inputs = instance(secure)
    assert inputs["storageType"] == "gp3"
    assert inputs["maxAllocatedStorage"] > inputs["allocatedStorage"]
    assert inputs["iamDatabaseAuthenticationEnabled"] is True


def test_identifier_is_stable_and_exported(secure: Recording) -> None:
    assert instance(secure)["identifier"] == "awaterra-prod-db"
    assert secure.outputs["identifier"] == "awaterra-prod-db"
    assert secure.outputs["address"].endswith(".rds.amazonaws.com")


def test_a_throwaway_stack_opts_out_explicitly(throwaway: Recording) -> None:
    inputs = instance(throwaway)
    assert inputs["multiAz"] is False
    assert inputs["deletionProtection"] is False
    assert inputs["skipFinalSnapshot"] is True
    assert "finalSnapshotIdentifier" not in inputs
    assert inputs["deleteAutomatedBackups"] is True
    assert "performanceInsightsKmsKeyId" not in inputs
    assert throwaway.of_type("aws:iam/role:Role") == []
    # Still encrypted, private and TLS-only.
    assert inputs["storageEncrypted"] is True and inputs["publiclyAccessible"] is False


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"instance_class": "m5.large"}, "instance_class must look like db.<family>.<size>"),
        ({"engine_version": "15.4"}, "engine_version must be 16"),
        ({"backup_retention_days": -1}, "backup_retention_days must be 0..35"),
        ({"backup_retention_days": 36}, "backup_retention_days must be 0..35"),
        ({"max_allocated_storage_gb": 20}, "max_allocated_storage_gb must exceed"),
        ({"monitoring_interval": 7}, "monitoring_interval must be one of"),
    ],
)
def test_bad_arguments_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DatabaseArgs(subnet_ids=SUBNETS, security_group_id="sg", **overrides)


@pytest.mark.parametrize(
    ("instance_class", "expected"),
    [
        ("db.t4g.micro", 84),
        ("db.t4g.medium", 422),
        ("db.m7g.large", 873),
        ("db.m7g.xlarge", 1774),
        ("db.r6g.4xlarge", 5000),  # capped
        ("db.q9.large", None),  # not modelled: the caller decides
    ],
)
def test_max_connections_follows_rds_memory_formula(
    instance_class: str, expected: int | None
) -> None:
    assert default_max_connections(instance_class) == expected
