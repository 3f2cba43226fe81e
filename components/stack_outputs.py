"""The stack outputs every awaterra stack exports, whatever its cloud and environment.

Tools (ops/, the docs' runbooks, CI) read these names, so a stack never lacks one: an output
that does not apply is exported as None (on AWS: the Datadog links without Datadog, the Grafana
dashboard and Prometheus workspace without the prometheus path, the Cognito ids with external
auth; on any stack: the Firebase configs without a `firebase` block; on Google Cloud see
components/gcp/stack.py).
"""

from __future__ import annotations

OUTPUT_NAMES: tuple[str, ...] = (
    "api_url",
    "heartbeat_url",
    "docs_url",
    "load_balancer_dns_name",
    "image_ref",
    "cluster_name",
    "service_name",
    "bucket_name",
    "database_endpoint",
    "database_secret_arn",
    "region",
    "db_instance_identifier",
    "backup_vault_name",
    "backup_vault_arn",
    "backup_copy_vault_name",
    "backup_copy_vault_arn",
    "backup_copy_region",
    "issuer",
    "jwks_url",
    "audience",
    "user_pool_id",
    "app_client_id",
    "dashboard_url",
    "availability_slo_url",
    "latency_slo_url",
    "synthetic_url",
    "grafana_dashboard_url",
    "prometheus_workspace_arn",
    # Datadog's Google Cloud integration: the service account it impersonates (gcp stacks).
    "datadog_gcp_service_account",
    # The optional `firebase` block: the apps' config files, secret (None without the block).
    "ios_config",
    "android_config",
)
