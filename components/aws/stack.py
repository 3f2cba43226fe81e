"""The awaterra stack on AWS (awaterra:cloud aws, the default), wired from validated settings.

    internet -> Route 53 (domain) -> WAF -> ALB (TLS 1.3, no port 80)   -> Fargate service
                                                  |                          |  |
                                         log bucket (prod)     RDS PostgreSQL  media bucket
                                                                    \\          /
                                                     AWS Backup (daily, copied to a 2nd region)

Composition only: every decision lives in components/ and components/settings.py. The
resource names are the ones the AWS stacks were first deployed with: renaming one replaces it.
"""

from __future__ import annotations

import pulumi

from components.aws.admin_links import admin_links
from components.aws.admin_panel import AdminPanel, AdminPanelArgs
from components.aws.auth import UserPool, UserPoolArgs
from components.aws.backup import BackupArgs, Backups
from components.aws.bucket import MediaBucket, MediaBucketArgs
from components.aws.certificate import TlsCertificate, TlsCertificateArgs
from components.aws.container_service import (
    CONTAINER_PORT,
    ContainerService,
    ContainerServiceArgs,
)
from components.aws.database import Database, DatabaseArgs, default_max_connections
from components.aws.datadog_secret import DatadogApiKeySecret, DatadogApiKeySecretArgs
from components.aws.datadog_shipping import (
    DatadogShippingArgs,
    app_depends_on,
    app_docker_labels,
    app_environment,
    app_log_configuration,
    datadog_containers,
    datadog_volumes,
    image_build_args,
)
from components.aws.dns import DnsRecord, DnsRecordArgs
from components.aws.edge import WebAcl, WebAclArgs
from components.aws.grafana import Grafana, GrafanaArgs
from components.aws.image import REPO_ROOT, ContainerImageArgs, image_tag
from components.aws.load_balancer import listener_ports
from components.aws.log_bucket import LogBucket, LogBucketArgs
from components.aws.network import Network, NetworkArgs
from components.aws.prometheus import PrometheusAlerting, PrometheusAlertingArgs
from components.firebase_outputs import firebase_outputs
from components.settings import StackSettings

SERVICE_NAME = "awaterra-api"


def build_aws_stack(settings: StackSettings) -> None:
    """Create the whole AWS stack and export its outputs (see components/stack_outputs.py)."""
    prod = settings.is_prod

    network = Network(
        "network",
        NetworkArgs(
            cidr_block=settings.network.vpc_cidr,
            az_count=settings.network.az_count,
            availability_zones=settings.network.availability_zones,
            nat_mode=settings.network.nat_mode,
            flow_logs=settings.network.flow_logs,
            flow_log_retention_days=settings.service.log_retention_days,
            public_ports=listener_ports(settings.load_balancer.http_redirect),
        ),
    )

    log_bucket = (
        LogBucket(
            "logs",
            LogBucketArgs(region=settings.region, force_destroy=settings.bucket.force_destroy),
        )
        if settings.load_balancer.access_logs or settings.bucket.access_logs
        else None
    )

    media = MediaBucket(
        "media",
        MediaBucketArgs(
            cors_allowed_origins=settings.bucket.cors_allowed_origins,
            access_log_bucket=(
                log_bucket.bucket_name
                if log_bucket is not None and settings.bucket.access_logs
                else None
            ),
            access_log_prefix=log_bucket.s3_access_log_prefix
            if log_bucket is not None
            else "s3-access/",
            force_destroy=settings.bucket.force_destroy,
        ),
    )

    database = Database(
        "database",
        DatabaseArgs(
            subnet_ids=network.private_subnet_ids,
            security_group_id=network.database_security_group_id,
            instance_class=settings.database.instance_class,
            engine_version=settings.database.engine_version,
            db_name=settings.database.name,
            allocated_storage_gb=settings.database.allocated_storage_gb,
            max_allocated_storage_gb=settings.database.max_allocated_storage_gb,
            multi_az=settings.database.multi_az,
            backup_retention_days=settings.database.backup_retention_days,
            deletion_protection=settings.database.deletion_protection,
            skip_final_snapshot=not prod,
            performance_insights=settings.database.performance_insights,
        ),
    )

    certificate = TlsCertificate(
        "certificate",
        TlsCertificateArgs(domain=settings.domain, hosted_zone_id=settings.hosted_zone_id),
    )

    if settings.auth.mode == "cognito":
        user_pool = UserPool(
            "auth",
            # The data stores share one switch: dbDeletionProtection (see docs/deploy.md, teardown).
            UserPoolArgs(
                mfa=settings.auth.cognito_mfa,
                deletion_protection=settings.database.deletion_protection,
                tier=settings.auth.cognito_tier,
                # Threat protection is what the PLUS plan is paid for (cognitoTier in Pulumi.yaml).
                threat_protection="ENFORCED" if settings.auth.cognito_tier == "PLUS" else "OFF",
            ),
        )
        auth_issuer: pulumi.Input[str] = user_pool.issuer
        auth_jwks_url: pulumi.Input[str] = user_pool.jwks_url
        auth_audience: pulumi.Input[str] = user_pool.audience
        pulumi.export("user_pool_id", user_pool.user_pool_id)
        pulumi.export("app_client_id", user_pool.client_id)
        # The admin panel signs in through the same pool, with a client of its own.
        admin_panel: AdminPanel | None = AdminPanel(
            "admin", AdminPanelArgs(user_pool_id=user_pool.user_pool_id, domain=settings.domain)
        )
    else:
        # An external issuer: the panel has no client here and answers 503 (docs/admin.md).
        admin_panel = None
        pulumi.export("user_pool_id", None)
        pulumi.export("app_client_id", None)
        auth_issuer = settings.auth.issuer or ""
        auth_jwks_url = settings.auth.jwks_url or ""
        auth_audience = settings.auth.audience or ""

    # Datadog shipping (agent sidecar / FireLens) plugs into the task: extra containers, the
    # app's log driver, DD_* environment, labels and start order. Mode none adds nothing but
    # DD_TRACE_ENABLED=false.
    service_log_group = f"/awaterra/{pulumi.get_stack()}/api"
    shipping_mode = settings.datadog.shipping if settings.datadog.enabled else "none"
    datadog_key: DatadogApiKeySecret | None = None
    if shipping_mode != "none" and settings.datadog.api_key is not None:
        datadog_key = DatadogApiKeySecret(
            "datadog-api-key", DatadogApiKeySecretArgs(api_key=settings.datadog.api_key)
        )
    image_defaults = ContainerImageArgs(kms_key_arn="", build_args=image_build_args(shipping_mode))
    shipping = DatadogShippingArgs(
        mode=shipping_mode,
        site=settings.datadog.site,
        environment=settings.environment,
        service=SERVICE_NAME,
        # The tag ContainerService deploys: Datadog's `version` follows the image.
        version=settings.service.image_tag
        or image_tag(
            REPO_ROOT,
            image_defaults.hashed_paths,
            image_defaults.platform,
            image_defaults.build_args,
        ),
        region=settings.region,
        api_key_secret_arn=datadog_key.secret_arn if datadog_key is not None else None,
        log_group_name=service_log_group,
    )

    panel_links = admin_links(
        domain=settings.domain,
        region=settings.region,
        log_group=service_log_group,
        datadog_site=settings.datadog.site if settings.datadog.enabled else None,
        environment=settings.environment,
        service=SERVICE_NAME,
    )
    # The prometheus path: the workspace first, since the task runs its collector.
    prometheus: PrometheusAlerting | None = None
    if settings.monitoring.prometheus:
        prometheus = PrometheusAlerting(
            "prometheus",
            PrometheusAlertingArgs(
                environment=settings.environment,
                heartbeat_url=f"https://{settings.domain}/heartbeat",
                app_port=CONTAINER_PORT,
                min_tasks=settings.service.min_count,
                db_max_connections=default_max_connections(settings.database.instance_class)
                or 80,
                db_instance_identifier=database.instance_identifier,
                log_group_name=service_log_group,
                alert_emails=settings.monitoring.alert_emails,
                log_retention_days=settings.service.log_retention_days,
            ),
        )
    # The dashboard depends on the workspace only, so the panel's status page can link it.
    grafana: Grafana | None = None
    links: dict[str, pulumi.Input[str]] = dict(panel_links)
    if prometheus is not None:
        grafana = Grafana(
            "grafana",
            GrafanaArgs(
                environment=settings.environment,
                workspace_arn=prometheus.workspace_arn,
                query_url=prometheus.query_url,
                region=settings.region,
                grafana_url=settings.monitoring.grafana_url,
                grafana_token=settings.monitoring.grafana_token,
            ),
        )
        links["Grafana dashboard"] = grafana.dashboard_url
    collector = prometheus.containers(settings.region) if prometheus is not None else []
    collector_volumes = prometheus.volumes() if prometheus is not None else []

    service = ContainerService(
        "api",
        ContainerServiceArgs(
            environment=settings.environment,
            vpc_id=network.vpc_id,
            public_subnet_ids=network.public_subnet_ids,
            service_subnet_ids=network.service_subnet_ids,
            assign_public_ip=network.assign_public_ip,
            lb_security_group_id=network.lb_security_group_id,
            service_security_group_id=network.service_security_group_id,
            certificate_arn=certificate.certificate_arn,
            bucket_name=media.bucket_name,
            bucket_arn=media.bucket_arn,
            bucket_kms_key_arn=media.kms_key_arn,
            db_address=database.address,
            db_port=database.port,
            db_name=database.db_name,
            db_master_secret_arn=database.master_secret_arn,
            db_resource_id=database.resource_id,
            db_secret_kms_key_arn=database.kms_key_arn,
            auth_issuer=auth_issuer,
            auth_jwks_url=auth_jwks_url,
            auth_audience=auth_audience,
            access_logs_bucket=(
                log_bucket.bucket_name
                if log_bucket is not None and settings.load_balancer.access_logs
                else None
            ),
            access_logs_prefix=log_bucket.alb_log_prefix if log_bucket is not None else "alb",
            lb_deletion_protection=settings.load_balancer.deletion_protection,
            http_redirect=settings.load_balancer.http_redirect,
            cpu=settings.service.cpu,
            memory=settings.service.memory,
            min_count=settings.service.min_count,
            max_count=settings.service.max_count,
            workers=settings.service.workers,
            log_retention_days=settings.service.log_retention_days,
            log_group_name=service_log_group,
            image_tag=settings.service.image_tag,
            image_build_args=image_defaults.build_args,
            extra_containers=[*datadog_containers(shipping), *collector],
            extra_volumes=[*datadog_volumes(shipping), *collector_volumes],
            log_configuration=app_log_configuration(shipping),
            # The pool the connection budget in settings counts on (docs/deploy.md).
            app_environment=[
                *app_environment(shipping),
                {"name": "DB_POOL_SIZE", "value": str(settings.service.pool_size)},
            ],
            app_docker_labels=app_docker_labels(shipping),
            app_depends_on=app_depends_on(shipping),
            datadog_api_key_secret_arn=(
                datadog_key.secret_arn if datadog_key is not None else None
            ),
            datadog_api_key_kms_key_arn=(
                datadog_key.kms_key_arn if datadog_key is not None else None
            ),
            admin_client_id=admin_panel.client_id if admin_panel is not None else None,
            admin_base_url=f"https://{settings.domain}" if admin_panel is not None else None,
            admin_links=links if admin_panel is not None else {},
            admin_session_key_secret_arn=(
                admin_panel.session_key_secret_arn if admin_panel is not None else None
            ),
            admin_session_key_kms_key_arn=(
                admin_panel.session_key_kms_key_arn if admin_panel is not None else None
            ),
        ),
    )

    dns = DnsRecord(
        "api-dns",
        DnsRecordArgs(
            domain=settings.domain,
            hosted_zone_id=settings.hosted_zone_id,
            lb_dns_name=service.load_balancer_dns_name,
            lb_zone_id=service.load_balancer_zone_id,
            # The load balancer and the VPC are IPv4-only.
            ipv6=False,
        ),
    )

    if settings.edge.waf_enabled:
        WebAcl(
            "waf",
            WebAclArgs(
                load_balancer_arn=service.load_balancer_arn,
                rate_limit=settings.edge.waf_rate_limit,
                log_retention_days=settings.service.log_retention_days,
                admin_allowed_cidrs=settings.edge.admin_allowed_cidrs,
            ),
        )

    datadog_keys = (settings.datadog.api_key, settings.datadog.app_key)
    if settings.datadog.enabled and datadog_keys[0] is not None and datadog_keys[1] is not None:
        # Imported only here: pulumi_datadog takes seconds to load and dev does not need it.
        import pulumi_aws as aws

        from components.aws.monitoring import Monitoring, MonitoringArgs

        monitoring = Monitoring(
            "monitoring",
            MonitoringArgs(
                environment=settings.environment,
                domain=settings.domain,
                cluster_name=service.cluster_name,
                service_name=service.service_name,
                load_balancer_arn_suffix=service.load_balancer_arn_suffix,
                target_group_arn_suffix=service.target_group_arn_suffix,
                db_instance_identifier=database.instance_identifier,
                # Unmodelled classes: assume the smallest so connection alerts fire early.
                db_max_connections=default_max_connections(settings.database.instance_class) or 80,
                api_key=datadog_keys[0],
                app_key=datadog_keys[1],
                site=settings.datadog.site,
                notify=settings.datadog.notify,
                datadog_service=SERVICE_NAME,
                aws_integration=settings.datadog.aws_integration,
                aws_account_id=(
                    aws.get_caller_identity().account_id
                    if settings.datadog.aws_integration
                    else None
                ),
                aws_region=settings.region,
            ),
        )
        pulumi.export("dashboard_url", monitoring.dashboard_url)
        pulumi.export("availability_slo_url", monitoring.availability_slo_url)
        pulumi.export("latency_slo_url", monitoring.latency_slo_url)
        pulumi.export("synthetic_url", monitoring.synthetic_url)
    else:
        # Every stack exports the same names (components/stack_outputs.py): none without Datadog.
        for name in ("dashboard_url", "availability_slo_url", "latency_slo_url", "synthetic_url"):
            pulumi.export(name, None)
    # Datadog's Google Cloud integration exists only on gcp stacks.
    pulumi.export("datadog_gcp_service_account", None)

    # With a `firebase` block: the apps in that Google Cloud project, through their own provider.
    for name, value in firebase_outputs(settings).items():
        pulumi.export(name, value)

    if prometheus is not None and grafana is not None:
        prometheus.grant_remote_write(service.task_role_arn)
        pulumi.export("grafana_dashboard_url", grafana.dashboard_url)
        pulumi.export("prometheus_workspace_arn", prometheus.workspace_arn)
    else:
        pulumi.export("grafana_dashboard_url", None)
        pulumi.export("prometheus_workspace_arn", None)

    backups = Backups(
        "backups",
        BackupArgs(
            resource_arns=[database.instance_arn, media.bucket_arn],
            kms_key_arns=[database.kms_key_arn, media.kms_key_arn],
            retention_days=settings.backup.retention_days,
            copy_region=settings.backup.copy_region,
            vault_lock=settings.backup.vault_lock,
            provider_default_tags=settings.default_tags,
        ),
    )

    pulumi.export("api_url", dns.url)
    pulumi.export("heartbeat_url", dns.url.apply(lambda url: f"{url}/heartbeat"))
    pulumi.export("docs_url", dns.url.apply(lambda url: f"{url}/docs"))
    pulumi.export("load_balancer_dns_name", service.load_balancer_dns_name)
    pulumi.export("image_ref", service.image_ref)
    pulumi.export("cluster_name", service.cluster_name)
    pulumi.export("service_name", service.service_name)
    pulumi.export("bucket_name", media.bucket_name)
    pulumi.export("database_endpoint", database.endpoint)
    pulumi.export("database_secret_arn", database.master_secret_arn)
    # What `python -m ops.backups verify|restore-drill` reads (see docs/deploy.md, restore runbook).
    pulumi.export("region", settings.region)
    pulumi.export("db_instance_identifier", database.instance_identifier)
    pulumi.export("backup_vault_name", backups.vault_name)
    pulumi.export("backup_vault_arn", backups.vault_arn)
    pulumi.export("backup_copy_vault_name", backups.copy_vault_name)
    pulumi.export("backup_copy_vault_arn", backups.copy_vault_arn)
    pulumi.export("backup_copy_region", settings.backup.copy_region)
    pulumi.export("issuer", auth_issuer)
    pulumi.export("jwks_url", auth_jwks_url)
    pulumi.export("audience", auth_audience)
