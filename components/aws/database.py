"""RDS PostgreSQL 16 in private subnets, encrypted with its own rotating KMS key.

`Database(name, DatabaseArgs(subnet_ids=..., security_group_id=...))`

The master password is generated and rotated by RDS in Secrets Manager
(`manage_master_user_password`): it never appears in the program, the state or the logs. The
secret is a JSON document with `username` and `password`, encrypted with the same key as the
data; whoever reads it needs `secretsmanager:GetSecretValue` on `master_secret_arn` and
`kms:Decrypt` on `kms_key_arn`.

Defaults are the production ones (Multi-AZ, 14 days of point-in-time restore, deletion
protection, a final snapshot); a dev stack opts out explicitly. The parameter group forces TLS
(`rds.force_ssl = 1`), logs statements slower than `slow_query_ms` and sets the server settings
both clouds share (components/postgres_settings.py: WAL compression).

Connections: RDS sets `max_connections` from instance memory (LEAST(memory/9531392, 5000): ~80
on db.t4g.micro, ~800 on db.m7g.large). The service opens at most tasks x workers x pool size;
see docs/deploy.md.

Outputs: `address`, `port`, `endpoint`, `db_name`, `master_secret_arn`, `kms_key_arn`,
`instance_arn`, `instance_identifier`, `resource_id` (the DbiResourceId that `rds-db:connect`
grants name: IAM sign-in is on, `iam_database_authentication_enabled`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws.policy_documents import (
    account_context,
    assume_role_policy,
    customer_key,
    key_policy,
)
from components.postgres_settings import SERVER_SETTINGS

_INSTANCE_CLASS = re.compile(r"^db\.[a-z][a-z0-9-]*\.[a-z0-9]+$")
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
MONITORING_INTERVALS = (0, 1, 5, 10, 15, 30, 60)
ENHANCED_MONITORING_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"


@dataclass(frozen=True)
class DatabaseArgs:
    subnet_ids: pulumi.Input[Sequence[str]]
    security_group_id: pulumi.Input[str]
    instance_class: str = "db.t4g.micro"
    engine_version: str = "16"
    db_name: str = "awaterra"
    master_username: str = "awaterra_admin"
    port: int = 5432
    allocated_storage_gb: int = 20
    max_allocated_storage_gb: int = 100
    multi_az: bool = True
    backup_retention_days: int = 14
    deletion_protection: bool = True
    skip_final_snapshot: bool = False
    performance_insights: bool = True
    monitoring_interval: int = 60
    slow_query_ms: int = 500
    backup_window: str = "03:00-04:00"
    maintenance_window: str = "sun:04:30-sun:05:30"
    extra_parameters: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _INSTANCE_CLASS.match(self.instance_class):
            raise ValueError(
                "Database: instance_class must look like db.<family>.<size>, "
                f"got {self.instance_class!r}"
            )
        if not re.match(r"^16(\.\d+)?$", self.engine_version):
            raise ValueError(
                f"Database: engine_version must be 16 or 16.x, got {self.engine_version!r}"
            )
        if not 0 <= self.backup_retention_days <= 35:
            raise ValueError(
                f"Database: backup_retention_days must be 0..35, got {self.backup_retention_days}"
            )
        if self.max_allocated_storage_gb <= self.allocated_storage_gb:
            raise ValueError("Database: max_allocated_storage_gb must exceed allocated_storage_gb")
        if self.monitoring_interval not in MONITORING_INTERVALS:
            raise ValueError(f"Database: monitoring_interval must be one of {MONITORING_INTERVALS}")
        if self.slow_query_ms < 0:
            raise ValueError("Database: slow_query_ms must be >= 0")

    @property
    def parameter_family(self) -> str:
        return f"postgres{self.engine_version.split('.')[0]}"

    def parameters(self) -> dict[str, str]:
        return {
            # Refuse unencrypted connections outright.
            "rds.force_ssl": "1",
            "log_min_duration_statement": str(self.slow_query_ms),
            "log_lock_waits": "1",
            # A session stuck in a transaction holds locks and a connection slot.
            "idle_in_transaction_session_timeout": "60000",
            **SERVER_SETTINGS,
            **self.extra_parameters,
        }


# Memory per "large" of the general-purpose and memory-optimised families; burstable sizes apart.
_GIB_PER_LARGE = {"m": 8, "r": 16, "x": 32, "z": 16}
_BURSTABLE_GIB = {"micro": 1, "small": 2, "medium": 4, "large": 8, "xlarge": 16, "2xlarge": 32}
# What RDS keeps for the OS and its agents before DBInstanceClassMemory (approximate).
_RESERVED_BYTES = 256 * 1024**2


def instance_memory_gib(instance_class: str) -> float | None:
    """The class's memory in GiB, from its family and size; None for a class not modelled."""
    _, family, size = instance_class.split(".", 2)
    if family.startswith("t"):
        return _BURSTABLE_GIB.get(size)
    per_large = _GIB_PER_LARGE.get(family[0])
    if per_large is None:
        return None
    if size == "large":
        return per_large
    if size == "xlarge":
        return per_large * 2
    multiple = size.removesuffix("xlarge")
    return per_large * 2 * int(multiple) if multiple.isdigit() else None


def default_max_connections(instance_class: str) -> int | None:
    """PostgreSQL's max_connections RDS derives: LEAST(DBInstanceClassMemory/9531392, 5000)."""
    memory = instance_memory_gib(instance_class)
    if memory is None:
        return None
    return min(int((memory * 1024**3 - _RESERVED_BYTES) / 9531392), 5000)


class Database(pulumi.ComponentResource):
    address: pulumi.Output[str]
    port: pulumi.Output[int]
    endpoint: pulumi.Output[str]
    db_name: pulumi.Output[str]
    master_secret_arn: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]
    instance_arn: pulumi.Output[str]
    instance_identifier: pulumi.Output[str]
    resource_id: pulumi.Output[str]

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("awaterra:database:Database", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        identifier = f"{pulumi.get_project()}-{pulumi.get_stack()}-{name}".lower()
        if not _IDENTIFIER.match(identifier) or "--" in identifier:
            raise ValueError(f"Database: {identifier!r} is not a valid RDS identifier")
        context = account_context(self)

        key = customer_key(
            f"{name}-key",
            f"RDS {identifier}: storage, snapshots, Performance Insights, master secret",
            key_policy(context.account_id),
            child,
        )
        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            name=identifier,
            subnet_ids=args.subnet_ids,
            description=f"Private subnets of {identifier}",
            opts=child,
        )
        parameter_group = aws.rds.ParameterGroup(
            f"{name}-params",
            # The family in the name: a major upgrade creates the new group before the switch.
            name=f"{identifier}-{args.parameter_family}",
            family=args.parameter_family,
            description=f"{identifier}: TLS only, slow query log",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(
                    name=parameter,
                    value=value,
                    apply_method="pending-reboot" if parameter.startswith("rds.") else "immediate",
                )
                for parameter, value in args.parameters().items()
            ],
            opts=child,
        )
        monitoring_role = None
        if args.monitoring_interval:
            monitoring_role = aws.iam.Role(
                f"{name}-monitoring-role",
                assume_role_policy=assume_role_policy(
                    "monitoring.rds.amazonaws.com", context.account_id
                ),
                description=f"Enhanced monitoring of {identifier}",
                opts=child,
            )
            aws.iam.RolePolicyAttachment(
                f"{name}-monitoring-policy",
                role=monitoring_role.name,
                policy_arn=ENHANCED_MONITORING_POLICY,
                opts=child,
            )

        instance = aws.rds.Instance(
            f"{name}-instance",
            identifier=identifier,
            engine="postgres",
            engine_version=args.engine_version,
            auto_minor_version_upgrade=True,
            instance_class=args.instance_class,
            db_name=args.db_name,
            username=args.master_username,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=key.arn,
            port=args.port,
            storage_type="gp3",
            allocated_storage=args.allocated_storage_gb,
            max_allocated_storage=args.max_allocated_storage_gb,
            storage_encrypted=True,
            kms_key_id=key.arn,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[args.security_group_id],
            publicly_accessible=False,
            multi_az=args.multi_az,
            parameter_group_name=parameter_group.name,
            iam_database_authentication_enabled=True,
            backup_retention_period=args.backup_retention_days,
            backup_window=args.backup_window,
            maintenance_window=args.maintenance_window,
            copy_tags_to_snapshot=True,
            delete_automated_backups=not args.deletion_protection,
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=args.skip_final_snapshot,
            final_snapshot_identifier=None if args.skip_final_snapshot else f"{identifier}-final",
            performance_insights_enabled=args.performance_insights,
            performance_insights_kms_key_id=key.arn if args.performance_insights else None,
            performance_insights_retention_period=7 if args.performance_insights else None,
            monitoring_interval=args.monitoring_interval,
            monitoring_role_arn=monitoring_role.arn if monitoring_role is not None else None,
            enabled_cloudwatch_logs_exports=["postgresql", "upgrade"],
            ca_cert_identifier="rds-ca-rsa2048-g1",
            apply_immediately=False,
            tags={"Name": identifier},
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.deletion_protection,
            ),
        )

        self.address = instance.address
        self.port = instance.port
        self.endpoint = instance.endpoint
        self.db_name = pulumi.Output.from_input(args.db_name)
        self.master_secret_arn = instance.master_user_secrets.apply(
            lambda secrets: (secrets[0].secret_arn or "") if secrets else ""
        )
        self.kms_key_arn = key.arn
        self.instance_arn = instance.arn
        self.instance_identifier = pulumi.Output.from_input(identifier)
        self.resource_id = instance.resource_id
        self.register_outputs(
            {
                "address": self.address,
                "port": self.port,
                "master_secret_arn": self.master_secret_arn,
                "kms_key_arn": self.kms_key_arn,
                "instance_arn": self.instance_arn,
                "instance_identifier": self.instance_identifier,
                "resource_id": self.resource_id,
            }
        )
