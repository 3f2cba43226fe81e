"""awaterra: the mobile app backend on AWS, wired from validated stack settings.

    internet -> Route 53 (domain) -> WAF -> ALB (TLS 1.3, 80 redirects) -> Fargate service
                                                  |                          |  |
                                         log bucket (prod)     RDS PostgreSQL  media bucket
                                                                    \\          /
                                                     AWS Backup (daily, copied to a 2nd region)

Composition only: every decision lives in components/ and components/settings.py.
"""

from __future__ import annotations

import pulumi

from components.auth import UserPool, UserPoolArgs
from components.backup import BackupArgs, Backups
from components.bucket import MediaBucket, MediaBucketArgs
from components.certificate import TlsCertificate, TlsCertificateArgs
from components.database import Database, DatabaseArgs
from components.log_bucket import LogBucket, LogBucketArgs
from components.network import Network, NetworkArgs
from components.settings import load_settings

settings = load_settings()
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
        UserPoolArgs(mfa=settings.auth.cognito_mfa, deletion_protection=prod),
    )
    auth_issuer: pulumi.Input[str] = user_pool.issuer
    auth_jwks_url: pulumi.Input[str] = user_pool.jwks_url
    auth_audience: pulumi.Input[str] = user_pool.audience
    pulumi.export("user_pool_id", user_pool.user_pool_id)
    pulumi.export("app_client_id", user_pool.client_id)
else:
    auth_issuer = settings.auth.issuer or ""
    auth_jwks_url = settings.auth.jwks_url or ""
    auth_audience = settings.auth.audience or ""

Backups(
    "backups",
    BackupArgs(
        resource_arns=[database.instance_arn, media.bucket_arn],
        kms_key_arns=[database.kms_key_arn, media.kms_key_arn],
        retention_days=settings.backup.retention_days,
        copy_region=settings.backup.copy_region,
        vault_lock=settings.backup.vault_lock,
    ),
)

api_url = f"https://{settings.domain}"
pulumi.export("api_url", api_url)
pulumi.export("heartbeat_url", f"{api_url}/heartbeat")
pulumi.export("docs_url", f"{api_url}/docs")
pulumi.export("bucket_name", media.bucket_name)
pulumi.export("database_endpoint", database.endpoint)
pulumi.export("database_secret_arn", database.master_secret_arn)
pulumi.export("issuer", auth_issuer)
pulumi.export("jwks_url", auth_jwks_url)
pulumi.export("audience", auth_audience)
