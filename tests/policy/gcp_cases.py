"""One violating and one compliant example for every Google Cloud rule (joined into cases.py's
CASES), and the property each violation message must name."""

from __future__ import annotations

from typing import Any

from policy.model import Resource
from tests.policy.casekit import Case, case, res

REPOSITORY = "gcp:artifactregistry/repository:Repository"

SQL = "gcp:sql/databaseInstance:DatabaseInstance"
GCS = "gcp:storage/bucket:Bucket"
GCS_IAM = "gcp:storage/bucketIAMMember:BucketIAMMember"
NETWORK = "gcp:compute/network:Network"
SUBNET = "gcp:compute/subnetwork:Subnetwork"
FIREWALL = "gcp:compute/firewall:Firewall"
RUN = "gcp:cloudrunv2/service:Service"
BACKEND = "gcp:compute/backendService:BackendService"
SSL_POLICY = "gcp:compute/sSLPolicy:SSLPolicy"
PROXY = "gcp:compute/targetHttpsProxy:TargetHttpsProxy"
ARMOR = "gcp:compute/securityPolicy:SecurityPolicy"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
SA_KEY = "gcp:serviceaccount/key:Key"
CRYPTO_KEY = "gcp:kms/cryptoKey:CryptoKey"
LOG_BUCKET = "gcp:logging/projectBucketConfig:ProjectBucketConfig"

SA = "serviceAccount:api@awaterra-prod.iam.gserviceaccount.com"
VPC_ID = "projects/awaterra-prod/global/networks/awaterra"


def _settings(**overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "tier": "db-custom-2-7680",
        "availabilityType": "REGIONAL",
        "deletionProtectionEnabled": True,
        "ipConfiguration": {
            "ipv4Enabled": False,
            "privateNetwork": VPC_ID,
            "sslMode": "ENCRYPTED_ONLY",
        },
        "backupConfiguration": {
            "enabled": True,
            "pointInTimeRecoveryEnabled": True,
            "backupRetentionSettings": {"retainedBackups": 14},
        },
        "databaseFlags": [
            {"name": "log_connections", "value": "on"},
            {"name": "log_disconnections", "value": "on"},
            {"name": "log_min_duration_statement", "value": "-1"},
            {"name": "cloudsql.enable_pgaudit", "value": "on"},
        ],
    }
    settings.update(overrides)
    return settings


def sql(*, settings: dict[str, Any] | None = None, **overrides: Any) -> Resource:
    props: dict[str, Any] = {
        "databaseVersion": "POSTGRES_16",
        "deletionProtection": True,
        "settings": settings if settings is not None else _settings(),
        **overrides,
    }
    return res(SQL, "db", **props)


def bucket(**overrides: Any) -> Resource:
    props: dict[str, Any] = {
        "location": "EU",
        "publicAccessPrevention": "enforced",
        "uniformBucketLevelAccess": True,
        "versioning": {"enabled": True},
        "logging": {"logBucket": "awaterra-logs"},
        **overrides,
    }
    return res(GCS, "media", **props)


def firewall(**overrides: Any) -> Resource:
    props: dict[str, Any] = {
        "network": VPC_ID,
        "direction": "INGRESS",
        "sourceRanges": ["35.191.0.0/16", "130.211.0.0/22"],
        "allows": [{"protocol": "tcp", "ports": ["8080"]}],
        **overrides,
    }
    return res(FIREWALL, "health-checks", **props)


def subnet(**overrides: Any) -> Resource:
    props: dict[str, Any] = {
        "network": VPC_ID,
        "ipCidrRange": "10.10.0.0/20",
        "privateIpGoogleAccess": True,
        "logConfig": {"aggregationInterval": "INTERVAL_5_SEC", "flowSampling": 0.5},
        **overrides,
    }
    return res(SUBNET, "private", **props)


def run(**overrides: Any) -> Resource:
    props: dict[str, Any] = {
        "location": "europe-west1",
        "ingress": "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER",
        "defaultUriDisabled": True,
        "deletionProtection": True,
        "template": {"containers": [{"image": "europe-docker.pkg.dev/p/r/api:1"}]},
        **overrides,
    }
    return res(RUN, "api", **props)


def armor_rule(priority: int, expression: str, action: str = "deny(403)") -> dict[str, Any]:
    return {"priority": priority, "action": action, "match": {"expr": {"expression": expression}}}


WAF_RULES = [
    armor_rule(1000, "evaluatePreconfiguredWaf('sqli-v33-stable')"),
    armor_rule(1001, "evaluatePreconfiguredWaf('xss-v33-stable')"),
    armor_rule(1002, "evaluatePreconfiguredWaf('cve-canary')"),
    armor_rule(
        2147483647,
        "",
        "allow",
    )
    | {"match": {"versionedExpr": "SRC_IPS_V1", "config": {"srcIpRanges": ["*"]}}},
]


def key(**overrides: Any) -> Resource:
    return res(CRYPTO_KEY, "db-key", keyRing="projects/p/locations/eu/keyRings/r", **overrides)


GCP_CASES: list[Case] = [
    # Cloud SQL
    case(
        "gcp-sql-tls",
        sql(
            settings=_settings(
                ipConfiguration={
                    "ipv4Enabled": False,
                    "sslMode": "ALLOW_UNENCRYPTED_AND_ENCRYPTED",
                    "privateNetwork": VPC_ID,
                }
            )
        ),
        sql(),
    ),
    case(
        "gcp-sql-no-public-ip",
        sql(
            settings=_settings(
                ipConfiguration={
                    "ipv4Enabled": True,
                    "sslMode": "ENCRYPTED_ONLY",
                    "authorizedNetworks": [{"name": "all", "value": "0.0.0.0/0"}],
                }
            )
        ),
        sql(),
    ),
    case(
        "gcp-sql-backups",
        sql(settings=_settings(backupConfiguration={"enabled": False})),
        sql(),
    ),
    case(
        "gcp-sql-deletion-protection",
        sql(deletionProtection=False, settings=_settings(deletionProtectionEnabled=False)),
        sql(),
    ),
    case("gcp-sql-postgres-version", sql(databaseVersion="POSTGRES_13"), sql()),
    case(
        "gcp-sql-postgres-flags",
        sql(settings=_settings(databaseFlags=[{"name": "log_connections", "value": "off"}])),
        sql(),
    ),
    # Cloud Storage
    case(
        "gcp-bucket-public-access-prevention", bucket(publicAccessPrevention="inherited"), bucket()
    ),
    case("gcp-bucket-uniform-access", bucket(uniformBucketLevelAccess=False), bucket()),
    case("gcp-bucket-versioning", bucket(versioning={"enabled": False}), bucket()),
    case("gcp-bucket-logging", bucket(logging=None), bucket(), absent=True),
    case(
        "gcp-bucket-iam-not-public",
        res(
            GCS_IAM,
            "public-read",
            bucket="media",
            role="roles/storage.objectViewer",
            member="allUsers",
        ),
        res(GCS_IAM, "api-read", bucket="media", role="roles/storage.objectViewer", member=SA),
    ),
    # VPC
    case(
        "gcp-network-custom-mode",
        res(NETWORK, "vpc", autoCreateSubnetworks=True),
        res(NETWORK, "vpc", autoCreateSubnetworks=False),
    ),
    case(
        "gcp-firewall-no-public-admin-ports",
        firewall(sourceRanges=["0.0.0.0/0"], allows=[{"protocol": "tcp", "ports": ["22", "80"]}]),
        firewall(),
    ),
    case("gcp-subnet-flow-logs", subnet(logConfig=None), subnet(), absent=True),
    case("gcp-subnet-private-google-access", subnet(privateIpGoogleAccess=False), subnet()),
    # Cloud Run
    case("gcp-run-ingress", run(ingress="INGRESS_TRAFFIC_ALL"), run()),
    case("gcp-run-default-url-disabled", run(defaultUriDisabled=False), run()),
    case("gcp-run-deletion-protection", run(deletionProtection=False), run()),
    # Load balancer
    case(
        "gcp-ssl-policy-modern",
        res(SSL_POLICY, "tls", minTlsVersion="TLS_1_0", profile="COMPATIBLE"),
        res(SSL_POLICY, "tls", minTlsVersion="TLS_1_2", profile="MODERN"),
    ),
    case(
        "gcp-https-proxy-ssl-policy",
        res(PROXY, "https", urlMap="projects/p/global/urlMaps/m"),
        res(
            PROXY,
            "https",
            urlMap="projects/p/global/urlMaps/m",
            sslPolicy="projects/p/global/sslPolicies/tls",
        ),
        absent=True,
    ),
    case(
        "gcp-backend-cloud-armor",
        res(BACKEND, "api", protocol="HTTPS", logConfig={"enable": False}),
        res(
            BACKEND,
            "api",
            protocol="HTTPS",
            securityPolicy="projects/p/global/securityPolicies/edge",
            logConfig={"enable": True, "sampleRate": 1.0},
        ),
        absent=True,
    ),
    case(
        "gcp-armor-preconfigured-waf",
        res(ARMOR, "edge", rules=[WAF_RULES[0], WAF_RULES[3]]),
        res(ARMOR, "edge", rules=WAF_RULES),
    ),
    # IAM
    case(
        "gcp-iam-no-basic-roles",
        res(PROJECT_MEMBER, "api-editor", project="p", role="roles/editor", member=SA),
        res(PROJECT_MEMBER, "api-sql", project="p", role="roles/cloudsql.client", member=SA),
    ),
    case(
        "gcp-iam-no-project-impersonation",
        res(
            PROJECT_MEMBER, "deployer", project="p", role="roles/iam.serviceAccountUser", member=SA
        ),
        res(PROJECT_MEMBER, "deployer", project="p", role="roles/run.developer", member=SA),
    ),
    case(
        "gcp-no-service-account-keys",
        res(SA_KEY, "api-key", serviceAccountId="api"),
        [],
        absent=True,
    ),
    # KMS and logging
    case("gcp-kms-rotation", key(rotationPeriod="31536000s"), key(rotationPeriod="7776000s")),
    case(
        "gcp-registry-cmek",
        res(REPOSITORY, "registry", format="DOCKER", kmsKeyName=None),
        res(
            REPOSITORY,
            "registry",
            format="DOCKER",
            kmsKeyName="projects/p/locations/l/keyRings/r/cryptoKeys/k",
        ),
    ),
    case(
        "gcp-log-bucket-retention",
        res(LOG_BUCKET, "logs", location="global", bucketId="_Default", retentionDays=7),
        res(LOG_BUCKET, "logs", location="global", bucketId="_Default", retentionDays=30),
    ),
]

# What each rule's violation message must name (the property a reader fixes).
NAMED_PROPERTY: dict[str, str] = {
    "gcp-sql-tls": "sslMode",
    "gcp-sql-no-public-ip": "ipv4Enabled",
    "gcp-sql-backups": "backupConfiguration.enabled",
    "gcp-sql-deletion-protection": "deletionProtection",
    "gcp-sql-postgres-version": "databaseVersion",
    "gcp-sql-postgres-flags": "log_connections",
    "gcp-bucket-public-access-prevention": "publicAccessPrevention",
    "gcp-bucket-uniform-access": "uniformBucketLevelAccess",
    "gcp-bucket-versioning": "versioning.enabled",
    "gcp-bucket-logging": "logging.logBucket",
    "gcp-bucket-iam-not-public": "allUsers",
    "gcp-network-custom-mode": "autoCreateSubnetworks",
    "gcp-firewall-no-public-admin-ports": "sourceRanges",
    "gcp-subnet-flow-logs": "logConfig",
    "gcp-subnet-private-google-access": "privateIpGoogleAccess",
    "gcp-run-ingress": "ingress",
    "gcp-run-default-url-disabled": "defaultUriDisabled",
    "gcp-run-deletion-protection": "deletionProtection",
    "gcp-ssl-policy-modern": "minTlsVersion",
    "gcp-https-proxy-ssl-policy": "sslPolicy",
    "gcp-backend-cloud-armor": "securityPolicy",
    "gcp-armor-preconfigured-waf": "cve-canary",
    "gcp-iam-no-basic-roles": "roles/editor",
    "gcp-iam-no-project-impersonation": "roles/iam.serviceAccountUser",
    "gcp-no-service-account-keys": "serviceAccountId",
    "gcp-kms-rotation": "rotationPeriod",
    "gcp-registry-cmek": "kmsKeyName",
    "gcp-log-bucket-retention": "retentionDays",
}
