"""Cloud SQL for PostgreSQL 16 on a private IP, TLS-only, IAM sign-in, backed up in a second region.

`Database(name, DatabaseArgs(region="us-central1", network_id=net.network_id,
psa_connection=net.psa_connection, service_account_email=sa.email,
backup_location="us-east1"))`

- Private IP only (`ipv4_enabled=False`) in the network's Private Service Access range; no
  authorised networks; the ExecuteSql data API is disallowed; Google services (BigQuery, Data
  Studio) cannot reach it over the private path unless `private_path_for_google_services=True`.
- TLS: `ssl_mode="ENCRYPTED_ONLY"`. The service connects straight to the private IP with
  asyncpg (`sslmode=require`); `TRUSTED_CLIENT_CERTIFICATE_REQUIRED` would demand a client
  certificate that only the Cloud SQL Auth Proxy / language connectors present, so it is an
  opt-in (`ssl_mode`) for a caller that connects through them.
- No password anywhere: the service signs in with IAM database authentication
  (`cloudsql.iam_authentication=on`) as a `CLOUD_IAM_SERVICE_ACCOUNT` user named after its
  service account (the email without `.gserviceaccount.com`), using an OAuth access token as
  the password. The account gets `roles/cloudsql.instanceUser` on this instance only (an IAM
  condition on the instance name). `root_password` is never set, so the built-in `postgres`
  user cannot sign in with a password. The IAM user gets the database roles in
  `iam_user_database_roles` (default `cloudsqlsuperuser`: the service runs its own migrations
  and owns its schema, the same privilege the AWS stack's RDS master user has).
- `owner_service_account_email` splits that in two: a second CLOUD_IAM user for that account
  (the migrate and maintain jobs') gets `iam_user_database_roles` and owns the schema, and the
  service's user gets no database role at all; `migrate` grants it row privileges only
  (`DB_APP_ROLE`, service/grants.py). Both accounts get the conditional `instanceUser` grant.
- Edition `ENTERPRISE`, set explicitly: PostgreSQL 16 instances otherwise default to
  `ENTERPRISE_PLUS` (about twice the price, different tiers). `tier` is a `db-custom-*` (or
  shared-core for dev) machine type.
- Availability `REGIONAL` (standby in another zone, automatic failover); `availability_type=
  "ZONAL"` for dev.
- Deletion protection on both levels: Pulumi's (`deletion_protection`) and Cloud SQL's own
  (`settings.deletion_protection_enabled`, which also stops console and gcloud deletes); the
  resource is also `protect`ed. `retain_backups_on_delete` keeps the backups if it is deleted.
- Backups daily with point-in-time recovery, `transaction_log_retention_days` (1..7 on
  ENTERPRISE) and `retained_backups` (default 14), stored in `backup_location` (another region
  or a multi-region: see components/gcp/backup.py for RPO/RTO). `replica_region` adds a
  cross-region read replica for a faster regional failover (off by default).
- Query insights on (client addresses not recorded). Flags: the CIS GCP 6.2 PostgreSQL set and
  what checkov's CKV_GCP PostgreSQL flag checks ask for (`DATABASE_FLAGS`), the server settings
  both clouds share (components/postgres_settings.py: WAL compression), plus `extra_flags`
  (which may override them).

Outputs: `connection_name`, `private_ip_address`, `instance_name`, `database_name`,
`iam_user_name` (the service's), `owner_iam_user_name` (None without an owner account).
`DatabaseArgs.max_connections()` is the max_connections the instance gets: the
`max_connections` flag when one is set, else Cloud SQL's default for the tier's memory
(`default_max_connections`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.postgres_settings import SERVER_SETTINGS

DATABASE_VERSION = "POSTGRES_16"
EDITIONS = ("ENTERPRISE", "ENTERPRISE_PLUS")
AVAILABILITY_TYPES = ("REGIONAL", "ZONAL")
SSL_MODES = ("ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED")
SERVICE_ACCOUNT_SUFFIX = ".gserviceaccount.com"
# CIS Google Cloud Platform Foundations 6.2.x and checkov's Cloud SQL PostgreSQL flag checks.
DATABASE_FLAGS: Mapping[str, str] = {
    "log_error_verbosity": "default",  # CIS 6.2.1
    "log_connections": "on",  # CIS 6.2.2
    "log_disconnections": "on",  # CIS 6.2.3
    "log_statement": "ddl",  # CIS 6.2.4
    "log_min_messages": "warning",  # CIS 6.2.5
    "log_min_error_statement": "error",  # CIS 6.2.6
    # CIS 6.2.7: statement text can carry personal data; query insights covers slow queries.
    "log_min_duration_statement": "-1",
    "cloudsql.enable_pgaudit": "on",  # CIS 6.2.8 (pgAudit available to CREATE EXTENSION)
    "log_hostname": "on",
    "log_checkpoints": "on",
    "log_lock_waits": "on",
    "log_temp_files": "0",
    "cloudsql.iam_authentication": "on",
}
_TIER = re.compile(r"^db-(f1-micro|g1-small|custom-\d{1,2}-\d{3,6}|perf-optimized-N-\d{1,3})$")
_REGION = re.compile(r"^[a-z]+(-[a-z]+)+\d+$")
_LOCATION = re.compile(r"^([a-z]+(-[a-z]+)+\d+|us|eu|asia)$")
_SERVICE_ACCOUNT = re.compile(
    r"^[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z][a-z0-9-]{4,28}[a-z0-9]\.iam"
    + re.escape(SERVICE_ACCOUNT_SUFFIX)
    + "$"
)
_DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_START_TIME = re.compile(r"^([01]\d|2[0-3]):00$")


# Cloud SQL for PostgreSQL's default max_connections by the instance's memory (Cloud SQL
# quotas and limits, "Maximum concurrent connections"): (memory from, in MiB) -> connections.
# Shared-core tiers have their own values; a custom tier has at least 3.75 GiB.
SHARED_CORE_MAX_CONNECTIONS: Mapping[str, int] = {"db-f1-micro": 25, "db-g1-small": 50}
MAX_CONNECTIONS_BY_MEMORY_MIB: tuple[tuple[int, int], ...] = (
    (0, 25),
    (3840, 100),  # 3.75 GiB up to 6 GiB
    (6144, 200),  # 6 GiB up to 7.5 GiB
    (7680, 400),  # 7.5 GiB up to 15 GiB
    (15360, 500),  # 15 GiB up to 30 GiB
    (30720, 600),  # 30 GiB up to 60 GiB
    (61440, 800),  # 60 GiB up to 120 GiB
    (122880, 1000),  # 120 GiB and more
)
# db-perf-optimized-N-<vCPUs> (ENTERPRISE_PLUS) has 8 GiB per vCPU.
_PERF_OPTIMIZED_MIB_PER_VCPU = 8192


def tier_memory_mib(tier: str) -> int | None:
    """The memory of a dedicated-core tier in MiB; None for shared-core or unknown tiers."""
    custom = re.fullmatch(r"db-custom-(\d+)-(\d+)", tier)
    if custom:
        return int(custom.group(2))
    perf = re.fullmatch(r"db-perf-optimized-N-(\d+)", tier)
    if perf:
        return int(perf.group(1)) * _PERF_OPTIMIZED_MIB_PER_VCPU
    return None


def default_max_connections(tier: str) -> int:
    """Cloud SQL's default max_connections for `tier` (PostgreSQL)."""
    if tier in SHARED_CORE_MAX_CONNECTIONS:
        return SHARED_CORE_MAX_CONNECTIONS[tier]
    memory = tier_memory_mib(tier)
    if memory is None:
        raise ValueError(f"Database: no default max_connections known for tier {tier!r}")
    return max(limit for floor, limit in MAX_CONNECTIONS_BY_MEMORY_MIB if memory >= floor)


def iam_user_name(service_account_email: str) -> str:
    """Cloud SQL names a service account's PostgreSQL user after its email, minus the suffix."""
    if not _SERVICE_ACCOUNT.match(service_account_email):
        raise ValueError(
            "Database: service_account_email must be a project service account "
            f"(<id>@<project>.iam.gserviceaccount.com), got {service_account_email!r}"
        )
    return service_account_email.removesuffix(SERVICE_ACCOUNT_SUFFIX)


@dataclass(frozen=True)
class DatabaseArgs:
    region: str
    network_id: pulumi.Input[str]
    service_account_email: pulumi.Input[str]
    backup_location: str
    psa_connection: pulumi.Resource | None = None
    project: pulumi.Input[str] | None = None
    tier: str = "db-custom-1-3840"
    edition: str = "ENTERPRISE"
    availability_type: str = "REGIONAL"
    database_name: str = "awaterra"
    disk_size_gb: int = 10
    disk_autoresize_limit_gb: int = 100
    ssl_mode: str = "ENCRYPTED_ONLY"
    deletion_protection: bool = True
    backups: bool = True
    point_in_time_recovery: bool = True
    transaction_log_retention_days: int = 7
    retained_backups: int = 14
    backup_start_time: str = "03:00"
    maintenance_day: int = 7  # Sunday
    maintenance_hour: int = 4
    query_insights: bool = True
    private_path_for_google_services: bool = False
    replica_region: str | None = None
    iam_user_database_roles: Sequence[str] = ("cloudsqlsuperuser",)
    owner_service_account_email: pulumi.Input[str] | None = None
    grant_login: bool = True
    extra_flags: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _REGION.match(self.region):
            raise ValueError(f"Database: region {self.region!r} is not a region like us-east1")
        if not _LOCATION.match(self.backup_location):
            raise ValueError(
                "Database: backup_location must be a region or a multi-region (us, eu, asia), "
                f"got {self.backup_location!r}"
            )
        if self.backups and self.backup_location == self.region:
            raise ValueError(
                "Database: backup_location must differ from region, or a regional outage "
                "takes the backups with it"
            )
        if not _TIER.match(self.tier):
            raise ValueError(
                f"Database: tier must be a Cloud SQL machine type like db-custom-2-7680, "
                f"got {self.tier!r}"
            )
        if self.edition not in EDITIONS:
            raise ValueError(f"Database: edition must be one of {EDITIONS}")
        if self.edition == "ENTERPRISE" and self.tier.startswith("db-perf-optimized"):
            raise ValueError("Database: db-perf-optimized tiers need edition ENTERPRISE_PLUS")
        if self.edition == "ENTERPRISE_PLUS" and not self.tier.startswith("db-perf-optimized"):
            raise ValueError("Database: ENTERPRISE_PLUS needs a db-perf-optimized-N-* tier")
        if self.tier in ("db-f1-micro", "db-g1-small") and self.availability_type == "REGIONAL":
            raise ValueError("Database: shared-core tiers cannot be REGIONAL")
        if self.availability_type not in AVAILABILITY_TYPES:
            raise ValueError(f"Database: availability_type must be one of {AVAILABILITY_TYPES}")
        if self.ssl_mode not in SSL_MODES:
            raise ValueError(f"Database: ssl_mode must be one of {SSL_MODES}")
        max_log_days = 7 if self.edition == "ENTERPRISE" else 35
        if not 1 <= self.transaction_log_retention_days <= max_log_days:
            raise ValueError(
                f"Database: transaction_log_retention_days must be 1..{max_log_days} "
                f"on {self.edition}"
            )
        if not 1 <= self.retained_backups <= 365:
            raise ValueError("Database: retained_backups must be 1..365")
        if self.point_in_time_recovery and not self.backups:
            raise ValueError("Database: point_in_time_recovery needs backups")
        if not _DATABASE_NAME.match(self.database_name):
            raise ValueError(f"Database: database_name {self.database_name!r} is invalid")
        if not 10 <= self.disk_size_gb < self.disk_autoresize_limit_gb:
            raise ValueError("Database: need 10 <= disk_size_gb < disk_autoresize_limit_gb")
        if not _START_TIME.match(self.backup_start_time):
            raise ValueError("Database: backup_start_time must be HH:00 (UTC)")
        if not (1 <= self.maintenance_day <= 7 and 0 <= self.maintenance_hour <= 23):
            raise ValueError("Database: maintenance_day is 1..7 (Monday..Sunday), hour 0..23")
        if self.replica_region is not None and (
            not _REGION.match(self.replica_region) or self.replica_region == self.region
        ):
            raise ValueError("Database: replica_region must be another region")
        flag = self.flags().get("max_connections")
        if flag is not None and not (flag.isdigit() and 14 <= int(flag) <= 262143):
            raise ValueError(f"Database: max_connections must be 14..262143, got {flag!r}")
        if isinstance(self.service_account_email, str):
            iam_user_name(self.service_account_email)
        if isinstance(self.owner_service_account_email, str):
            iam_user_name(self.owner_service_account_email)
            if self.owner_service_account_email == self.service_account_email:
                raise ValueError(
                    "Database: owner_service_account_email must be another account than "
                    "service_account_email, or the service would own its schema after all"
                )

    def flags(self) -> dict[str, str]:
        return {**DATABASE_FLAGS, **SERVER_SETTINGS, **self.extra_flags}

    def max_connections(self) -> int:
        """What the instance runs with: the `max_connections` flag if set, else the default."""
        flag = self.flags().get("max_connections")
        return int(flag) if flag is not None else default_max_connections(self.tier)


class Database(pulumi.ComponentResource):
    connection_name: pulumi.Output[str]
    private_ip_address: pulumi.Output[str]
    instance_name: pulumi.Output[str]
    database_name: pulumi.Output[str]
    iam_user_name: pulumi.Output[str]
    owner_iam_user_name: pulumi.Output[str] | None
    replica_connection_name: pulumi.Output[str] | None

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("awaterra:gcp:Database", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        instance_name = f"{pulumi.get_project()}-{pulumi.get_stack()}-{name}".lower()
        labels = {"stack": pulumi.get_stack(), **args.labels}

        def settings(availability_type: str, primary: bool) -> gcp.sql.DatabaseInstanceSettingsArgs:
            return gcp.sql.DatabaseInstanceSettingsArgs(
                tier=args.tier,
                edition=args.edition,
                availability_type=availability_type,
                disk_type="PD_SSD",
                disk_size=args.disk_size_gb,
                disk_autoresize=True,
                disk_autoresize_limit=args.disk_autoresize_limit_gb,
                deletion_protection_enabled=args.deletion_protection,
                retain_backups_on_delete=args.deletion_protection if primary else None,
                data_api_access="DISALLOW_DATA_API",
                ip_configuration=gcp.sql.DatabaseInstanceSettingsIpConfigurationArgs(
                    ipv4_enabled=False,
                    private_network=args.network_id,
                    enable_private_path_for_google_cloud_services=(
                        args.private_path_for_google_services
                    ),
                    ssl_mode=args.ssl_mode,
                ),
                backup_configuration=(
                    gcp.sql.DatabaseInstanceSettingsBackupConfigurationArgs(
                        enabled=args.backups,
                        location=args.backup_location if args.backups else None,
                        start_time=args.backup_start_time,
                        point_in_time_recovery_enabled=args.point_in_time_recovery,
                        transaction_log_retention_days=args.transaction_log_retention_days,
                        backup_retention_settings=gcp.sql.DatabaseInstanceSettingsBackupConfigurationBackupRetentionSettingsArgs(
                            retained_backups=args.retained_backups, retention_unit="COUNT"
                        ),
                    )
                    if primary
                    else None
                ),
                insights_config=gcp.sql.DatabaseInstanceSettingsInsightsConfigArgs(
                    query_insights_enabled=args.query_insights,
                    record_application_tags=args.query_insights,
                    record_client_address=False,
                    query_string_length=1024,
                ),
                maintenance_window=gcp.sql.DatabaseInstanceSettingsMaintenanceWindowArgs(
                    day=args.maintenance_day, hour=args.maintenance_hour, update_track="stable"
                ),
                database_flags=[
                    gcp.sql.DatabaseInstanceSettingsDatabaseFlagArgs(name=flag, value=value)
                    for flag, value in args.flags().items()
                ],
                user_labels=labels,
            )

        depends_on = [args.psa_connection] if args.psa_connection is not None else []
        instance = gcp.sql.DatabaseInstance(
            f"{name}-instance",
            name=instance_name,
            project=args.project,
            region=args.region,
            database_version=DATABASE_VERSION,
            deletion_protection=args.deletion_protection,
            settings=settings(args.availability_type, primary=True),
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=depends_on, protect=args.deletion_protection
            ),
        )
        database = gcp.sql.Database(
            f"{name}-database",
            name=args.database_name,
            instance=instance.name,
            project=args.project,
            opts=child,
        )
        owned_separately = args.owner_service_account_email is not None

        def iam_user(resource_name: str, email: pulumi.Input[str], owner: bool) -> gcp.sql.User:
            return gcp.sql.User(
                resource_name,
                name=pulumi.Output.from_input(email).apply(iam_user_name),
                instance=instance.name,
                project=args.project,
                type="CLOUD_IAM_SERVICE_ACCOUNT",
                database_roles=(list(args.iam_user_database_roles) or None) if owner else None,
                opts=child,
            )

        user = iam_user(f"{name}-iam-user", args.service_account_email, not owned_separately)
        logins: list[tuple[str, pulumi.Input[str]]] = [
            (f"{name}-instance-user", args.service_account_email)
        ]
        self.owner_iam_user_name = None
        if args.owner_service_account_email is not None:
            owner = iam_user(f"{name}-owner-iam-user", args.owner_service_account_email, True)
            self.owner_iam_user_name = owner.name
            logins.append((f"{name}-owner-instance-user", args.owner_service_account_email))
        if args.grant_login:
            project_id = (
                pulumi.Output.from_input(args.project)
                if args.project is not None
                else gcp.organizations.get_project_output(
                    opts=pulumi.InvokeOutputOptions(parent=self)
                ).project_id
            )
            for login_name, email in logins:
                gcp.projects.IAMMember(
                    login_name,
                    project=project_id,
                    role="roles/cloudsql.instanceUser",
                    member=pulumi.Output.concat(
                        "serviceAccount:", pulumi.Output.from_input(email)
                    ),
                    condition=gcp.projects.IAMMemberConditionArgs(
                        title=f"only {instance_name}",
                        description="IAM database sign-in to this instance only",
                        expression=pulumi.Output.concat(
                            'resource.name == "projects/',
                            project_id,
                            "/instances/",
                            instance_name,
                            '" && resource.type == "sqladmin.googleapis.com/Instance"',
                        ),
                    ),
                    opts=child,
                )
        self.replica_connection_name = None
        if args.replica_region is not None:
            replica = gcp.sql.DatabaseInstance(
                f"{name}-replica",
                name=f"{instance_name}-replica",
                project=args.project,
                region=args.replica_region,
                database_version=DATABASE_VERSION,
                master_instance_name=instance.name,
                deletion_protection=args.deletion_protection,
                settings=settings("ZONAL", primary=False),
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=depends_on, protect=args.deletion_protection
                ),
            )
            self.replica_connection_name = replica.connection_name

        self.connection_name = instance.connection_name
        self.private_ip_address = instance.private_ip_address
        self.instance_name = instance.name
        self.database_name = database.name
        self.iam_user_name = user.name
        self.register_outputs(
            {
                "connection_name": self.connection_name,
                "private_ip_address": self.private_ip_address,
                "instance_name": self.instance_name,
                "database_name": self.database_name,
                "iam_user_name": self.iam_user_name,
                "owner_iam_user_name": self.owner_iam_user_name,
                "replica_connection_name": self.replica_connection_name,
            }
        )
