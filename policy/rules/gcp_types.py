"""Type tokens of the Google Cloud resources the rules look at (pulumi-gcp 8.x)."""

from __future__ import annotations

SQL_INSTANCE = ("gcp:sql/databaseInstance:DatabaseInstance",)
BUCKET = ("gcp:storage/bucket:Bucket",)
BUCKET_IAM = (
    "gcp:storage/bucketIAMMember:BucketIAMMember",
    "gcp:storage/bucketIAMBinding:BucketIAMBinding",
)
NETWORK = ("gcp:compute/network:Network",)
SUBNETWORK = ("gcp:compute/subnetwork:Subnetwork",)
FIREWALL = ("gcp:compute/firewall:Firewall",)
RUN_SERVICE = ("gcp:cloudrunv2/service:Service",)
BACKEND_SERVICE = ("gcp:compute/backendService:BackendService",)
SSL_POLICY = ("gcp:compute/sSLPolicy:SSLPolicy",)
HTTPS_PROXY = ("gcp:compute/targetHttpsProxy:TargetHttpsProxy",)
SECURITY_POLICY = ("gcp:compute/securityPolicy:SecurityPolicy",)
PROJECT_IAM = (
    "gcp:projects/iAMMember:IAMMember",
    "gcp:projects/iAMBinding:IAMBinding",
)
SERVICE_ACCOUNT_KEY = ("gcp:serviceaccount/key:Key",)
KMS_CRYPTO_KEY = ("gcp:kms/cryptoKey:CryptoKey",)
LOG_BUCKET = ("gcp:logging/projectBucketConfig:ProjectBucketConfig",)
ARTIFACT_REPOSITORY = ("gcp:artifactregistry/repository:Repository",)
