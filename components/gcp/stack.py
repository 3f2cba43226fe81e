"""The awaterra stack on Google Cloud, composed from the components in this package.

    internet -> Cloud DNS (domain) -> global HTTPS LB + Cloud Armor (TLS policy, managed cert)
                                             |  serverless NEG
                                             v
        Cloud Run service (ingress: internal LB only) ---- Cloud Run jobs (migrate per image,
          |  service account (IAM)   |                        maintain daily; schema owner SA)
          |                          | Direct VPC egress (private ranges)
          |                          v
          |            Cloud SQL PostgreSQL 16 (private IP only, IAM sign-in, TLS)
          |                          | backups + PITR logs in gcpBackupLocation
          v
        media bucket (dual-region, turbo)  --usage logs (prod)-->  log bucket
          Artifact Registry (image by digest)     Identity Platform (issuer, JWKS, audience)
        (project APIs enabled first; custom-mode VPC with Private Service Access)

    with datadogEnabled: Datadog (dashboard, monitors, SLOs, heartbeat) on Cloud Run, Cloud SQL
    and the URL map's metrics, read through the keyless integration (datadogGcpIntegration)
    with a firebase block: the Firebase apps (components/firebase.py) in that project

Composition only: decisions live in the components and in components/settings*.py. Secrets:
none in the project. The database takes IAM sign-in with the service account's own access
token (no password exists to store), Identity Platform tokens are checked against Google's
public JWKS, and Datadog reads metrics through the integration's impersonated service account
(the service itself ships nothing to Datadog); so no Secret Manager secret is created and the
service account is granted none. The Datadog API and app keys live in the stack's config as
Pulumi secrets, used only by the Datadog provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import pulumi

from components.firebase_outputs import firebase_outputs
from components.gcp.apis import (
    DATADOG_INTEGRATION_APIS,
    DEFAULT_APIS,
    ProjectApis,
    ProjectApisArgs,
    with_apis,
)
from components.gcp.bucket import MediaBucket, MediaBucketArgs
from components.gcp.cloud_run import CloudRunService, CloudRunServiceArgs
from components.gcp.database import SERVICE_ACCOUNT_SUFFIX, Database, DatabaseArgs
from components.gcp.edge import Edge, EdgeArgs
from components.gcp.encryption_key import EncryptionKey, EncryptionKeyArgs
from components.gcp.identity import Identity, IdentityArgs
from components.gcp.log_bucket import LogBucket, LogBucketArgs
from components.gcp.network import Network, NetworkArgs
from components.gcp.registry import Registry, RegistryArgs
from components.gcp.service_account import ServiceIdentity, ServiceIdentityArgs
from components.settings import CONNECTION_BUDGET_SHARE, StackSettings
from components.settings_gcp import MAX_LOG_RETENTION_DAYS
from components.stack_outputs import OUTPUT_NAMES

SERVICE_NAME = "awaterra-api"


def db_user(service_account_email: str) -> str:
    """Cloud SQL's IAM user for a service account: its email without `.gserviceaccount.com`."""
    return service_account_email.removesuffix(SERVICE_ACCOUNT_SUFFIX)


def _warn_past_connection_budget(settings: StackSettings, max_connections: int) -> None:
    """The AWS settings' connection check, for the Cloud SQL tier (docs/deploy.md)."""
    service = settings.service
    if service.max_database_connections > max_connections * CONNECTION_BUDGET_SHARE:
        pulumi.log.warn(
            "awaterra:serviceMaxCount x serviceWorkers x (servicePoolSize + a quarter) = "
            f"{service.max_database_connections} connections exceeds "
            f"{CONNECTION_BUDGET_SHARE:.0%} of dbTier's max_connections ({max_connections})"
        )


def build_gcp_stack(settings: StackSettings) -> dict[str, Any]:
    """Create the whole Google Cloud stack; return the stack outputs (name -> value)."""
    gcp = settings.gcp
    if gcp is None:
        raise ValueError("build_gcp_stack needs the settings of a gcp stack (awaterra:cloud gcp)")
    prod = settings.is_prod
    project, region = gcp.project, gcp.region
    labels: Mapping[str, str] = gcp.labels
    dr = gcp.disaster_recovery

    datadog = settings.datadog
    monitored = datadog.enabled and datadog.api_key is not None and datadog.app_key is not None
    apis = ProjectApis(
        "apis",
        ProjectApisArgs(
            project=project,
            services=with_apis(
                DEFAULT_APIS, DATADOG_INTEGRATION_APIS if datadog.gcp_integration else ()
            ),
        ),
    )
    after_apis = pulumi.ResourceOptions(depends_on=[apis])

    network = Network(
        "network",
        NetworkArgs(
            regions=[region],
            cidr_block=settings.network.vpc_cidr,
            flow_logs=settings.network.flow_logs,
            project=project,
        ),
        after_apis,
    )

    identity_sa = ServiceIdentity(
        "api-identity",
        ServiceIdentityArgs(
            project=project,
            account_id=f"awaterra-api-{settings.environment}",
            display_name=f"awaterra API ({settings.environment})",
        ),
        after_apis,
    )
    # The migrate and maintain jobs' own account: it owns the schema (DDL, partitions) and has
    # none of the service's grants; the service's database user gets row privileges only.
    schema_owner = ServiceIdentity(
        "schema-owner",
        ServiceIdentityArgs(
            project=project,
            account_id=f"awaterra-schema-{settings.environment}",
            display_name=f"awaterra schema owner ({settings.environment})",
            description="Runs migrate and maintain: owns the database schema, nothing else",
            # Sign-in is granted by the database, on its instance only (Database).
            cloudsql=False,
            token_creator_on_self=False,
        ),
        after_apis,
    )

    database_args = DatabaseArgs(
        region=region,
        network_id=network.network_id,
        psa_connection=network.psa_connection,
        service_account_email=identity_sa.email,
        owner_service_account_email=schema_owner.email,
        backup_location=dr.sql_backup_location,
        project=project,
        tier=gcp.db_tier,
        availability_type="REGIONAL" if settings.database.multi_az else "ZONAL",
        database_name=settings.database.name,
        disk_size_gb=settings.database.allocated_storage_gb,
        disk_autoresize_limit_gb=settings.database.max_allocated_storage_gb,
        deletion_protection=settings.database.deletion_protection,
        retained_backups=settings.database.backup_retention_days,
        transaction_log_retention_days=min(
            MAX_LOG_RETENTION_DAYS, settings.database.backup_retention_days
        ),
        labels=labels,
    )
    database = Database("database", database_args, after_apis)
    _warn_past_connection_budget(settings, database_args.max_connections())

    log_bucket = (
        LogBucket(
            "logs",
            LogBucketArgs(
                location=region.upper(),
                force_destroy=settings.bucket.force_destroy,
                project=project,
                labels=labels,
            ),
            after_apis,
        )
        if settings.bucket.access_logs
        else None
    )
    media = MediaBucket(
        "media",
        MediaBucketArgs(
            service_account_email=identity_sa.email,
            cors_allowed_origins=settings.bucket.cors_allowed_origins,
            location=dr.bucket_location or "US",
            data_locations=dr.bucket_data_locations,
            access_log_bucket=log_bucket.bucket_name if log_bucket is not None else None,
            force_destroy=settings.bucket.force_destroy,
            project=project,
            labels=labels,
        ),
        after_apis,
    )

    # The image is encrypted with a key of the stack's own (CMEK), as ECR's is on AWS.
    registry_key = EncryptionKey(
        "registry-key",
        EncryptionKeyArgs(
            project=project,
            location=region,
            service="artifactregistry.googleapis.com",
            labels=labels,
        ),
        after_apis,
    )
    registry = Registry(
        "registry",
        RegistryArgs(
            project=project,
            location=region,
            repository_id="awaterra",
            kms_key_name=registry_key.key_name,
            tag=settings.service.image_tag,
            labels=labels,
        ),
        pulumi.ResourceOptions.merge(
            after_apis, pulumi.ResourceOptions(depends_on=[registry_key.grant])
        ),
    )

    auth = Identity(
        "identity", IdentityArgs(project=project, authorized_domains=(settings.domain,)), after_apis
    )

    run = CloudRunService(
        "api",
        CloudRunServiceArgs(
            project=project,
            location=region,
            image_ref=registry.image_ref,
            service_account_email=identity_sa.email,
            network=network.network_id,
            subnetwork=network.run_subnet_ids[region],
            deletion_protection=prod,
            environment={
                "ENVIRONMENT": settings.environment,
                "DB_HOST": database.private_ip_address,
                "DB_NAME": database.database_name,
                "DB_USER": identity_sa.email.apply(db_user),
                "DB_IAM_AUTH": "gcp",
                "DB_SSLMODE": "require",
                "DB_POOL_SIZE": str(settings.service.pool_size),
                "STORAGE_URL": media.bucket_name.apply(lambda name: f"gs://{name}"),
                "AUTH_JWKS_URL": auth.jwks_url,
                "AUTH_ISSUER": auth.issuer,
                "AUTH_AUDIENCE": auth.audience,
            },
            service_name=SERVICE_NAME,
            workers=settings.service.workers,
            min_instances=settings.service.min_count,
            max_instances=settings.service.max_count,
            jobs_service_account_email=schema_owner.email,
            jobs_environment={
                "DB_USER": schema_owner.email.apply(db_user),
                "DB_APP_ROLE": identity_sa.email.apply(db_user),
            },
            labels=labels,
            # The accounts' Cloud SQL grants and the IAM database users must exist before the
            # first migration signs in.
            depends_on=[identity_sa, schema_owner, database],
        ),
        after_apis,
    )

    edge = Edge(
        "edge",
        EdgeArgs(
            project=project,
            region=region,
            cloud_run_service=run.service_name,
            domain=settings.domain,
            dns_zone=gcp.dns_zone,
            http_redirect=settings.load_balancer.http_redirect,
            labels=labels,
        ),
        after_apis,
    )

    outputs: dict[str, Any] = {
        "api_url": edge.url,
        "heartbeat_url": f"{edge.url}/heartbeat",
        "docs_url": f"{edge.url}/docs",
        # The global load balancer has an anycast IP, not a DNS name; the domain's A record
        # points at it (edge).
        "load_balancer_dns_name": None,
        "image_ref": registry.image_ref,
        "cluster_name": None,  # Cloud Run has no cluster
        "service_name": run.service_name,
        "bucket_name": media.bucket_name,
        "database_endpoint": database.private_ip_address,
        "database_secret_arn": None,  # IAM sign-in: no database password exists
        "region": region,
        "db_instance_identifier": database.instance_name,
        # Cloud SQL keeps its backups itself (in gcpBackupLocation): no vault.
        "backup_vault_name": None,
        "backup_vault_arn": None,
        "backup_copy_vault_name": None,
        "backup_copy_vault_arn": None,
        "backup_copy_region": dr.sql_backup_location,
        "issuer": auth.issuer,
        "jwks_url": auth.jwks_url,
        "audience": auth.audience,
        # Identity Platform is the project's own configuration: no pool or app client ids.
        "user_pool_id": None,
        "app_client_id": None,
        # With Datadog: its links; the integration's service account when it is on.
        "dashboard_url": None,
        "availability_slo_url": None,
        "latency_slo_url": None,
        "synthetic_url": None,
        # The prometheus path is built for AWS stacks only.
        "grafana_dashboard_url": None,
        "prometheus_workspace_arn": None,
        "datadog_gcp_service_account": None,
        # With a firebase block: the apps' config files (secret outputs).
        "ios_config": None,
        "android_config": None,
    }
    if monitored:
        # Imported only here: pulumi_datadog takes seconds to load and a stack without Datadog
        # does not need it (tests/monitoring/test_datadog_isolation.py).
        from components.gcp.monitoring import GcpMonitoring, GcpMonitoringArgs

        monitoring = GcpMonitoring(
            "monitoring",
            GcpMonitoringArgs(
                environment=settings.environment,
                domain=settings.domain,
                project_id=project,
                cloud_run_service=run.service_name,
                sql_instance=database.instance_name,
                url_map_name=edge.url_map_name,
                min_instances=settings.service.min_count,
                db_max_connections=database_args.max_connections(),
                api_key=cast("pulumi.Output[str]", datadog.api_key),
                app_key=cast("pulumi.Output[str]", datadog.app_key),
                site=datadog.site,
                notify=datadog.notify,
                datadog_service=SERVICE_NAME,
                gcp_integration=datadog.gcp_integration,
            ),
            after_apis,
        )
        outputs["dashboard_url"] = monitoring.dashboard_url
        outputs["availability_slo_url"] = monitoring.availability_slo_url
        outputs["latency_slo_url"] = monitoring.latency_slo_url
        outputs["synthetic_url"] = monitoring.synthetic_url
        outputs["datadog_gcp_service_account"] = monitoring.integration_service_account_email
    outputs.update(firebase_outputs(settings))
    if tuple(outputs) != OUTPUT_NAMES:
        raise AssertionError("components/gcp/stack.py must export exactly OUTPUT_NAMES")
    return outputs
