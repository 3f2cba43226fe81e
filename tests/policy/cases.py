"""One violating and one compliant example for every rule (the table test_rules.py runs)."""

from __future__ import annotations

import json
from typing import Any

from policy.model import Resource
from tests.policy.casekit import Case, case, res
from tests.policy.casekit import urn as urn
from tests.policy.gcp_cases import GCP_CASES

RDS = "aws:rds/instance:Instance"
PARAMS = "aws:rds/parameterGroup:ParameterGroup"
BUCKET = "aws:s3/bucket:Bucket"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
SG = "aws:ec2/securityGroup:SecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
LB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
WAF_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
KMS = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ECR = "aws:ecr/repository:Repository"
VAULT = "aws:backup/vault:Vault"
PLAN = "aws:backup/plan:Plan"
SELECTION = "aws:backup/selection:Selection"
SNS = "aws:sns/topic:Topic"
AMP = "aws:amp/workspace:Workspace"
SQS = "aws:sqs/queue:Queue"
SECRET = "aws:secretsmanager/secret:Secret"
CLUSTER = "aws:ecs/cluster:Cluster"
SERVICE = "aws:ecs/service:Service"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
IAM_POLICY = "aws:iam/policy:Policy"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
USER_POOL = "aws:cognito/userPool:UserPool"

KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/k"


GOOD_DB: dict[str, Any] = {
    "engine": "postgres",
    "engineVersion": "16",
    "storageEncrypted": True,
    "kmsKeyId": KEY_ARN,
    "publiclyAccessible": False,
    "backupRetentionPeriod": 14,
    "deletionProtection": True,
    "skipFinalSnapshot": False,
    "finalSnapshotIdentifier": "db-final",
    "multiAz": True,
    "performanceInsightsEnabled": True,
    "performanceInsightsKmsKeyId": KEY_ARN,
    "iamDatabaseAuthenticationEnabled": True,
    "autoMinorVersionUpgrade": True,
    "enabledCloudwatchLogsExports": ["postgresql", "upgrade"],
    "parameterGroupName": "db-params",
    "arn": "arn:aws:rds:us-east-1:123456789012:db:db",
}


def db(**overrides: Any) -> Resource:
    return res(RDS, "db", **{**GOOD_DB, **overrides})


def params(value: str) -> Resource:
    return res(
        PARAMS,
        "db-params",
        name="db-params",
        family="postgres16",
        parameters=[{"name": "rds.force_ssl", "value": value}],
    )


# --- S3: buckets and the resources that configure them -------------------------------------

MEDIA = res(BUCKET, "media", bucket="media-bucket", arn="arn:aws:s3:::media-bucket")
LOGS = res(BUCKET, "logs", bucket="logs-bucket", arn="arn:aws:s3:::logs-bucket")


def pab(bucket: Resource, **flags: bool) -> Resource:
    values = {
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
        **flags,
    }
    return res(
        PAB, f"{bucket.name}-pab", deps={"bucket": [bucket]}, bucket="unknown-name", **values
    )


def sse(bucket: Resource, algorithm: str, key: str | None = KEY_ARN) -> Resource:
    default: dict[str, Any] = {"sseAlgorithm": algorithm}
    if key:
        default["kmsMasterKeyId"] = key
    return res(
        SSE,
        f"{bucket.name}-sse",
        bucket=bucket.props["bucket"],
        rules=[{"applyServerSideEncryptionByDefault": default, "bucketKeyEnabled": True}],
    )


def versioning(bucket: Resource, status: str) -> Resource:
    return res(
        VERSIONING,
        f"{bucket.name}-versioning",
        deps={"bucket": [bucket]},
        bucket=bucket.props["bucket"],
        versioningConfiguration={"status": status},
    )


TLS_ONLY_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::media-bucket", "arn:aws:s3:::media-bucket/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
)
READ_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::media-bucket/*",
            }
        ],
    }
)

# --- Network -------------------------------------------------------------------------------

MAIN_VPC = res(VPC, "vpc", id="vpc-1", cidrBlock="10.0.0.0/16")
LB_SG = res(
    SG,
    "lb-sg",
    id="sg-lb",
    ingress=[
        {"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]},
        {
            "protocol": "tcp",
            "fromPort": 80,
            "toPort": 80,
            "cidrBlocks": ["0.0.0.0/0"],
            "ipv6CidrBlocks": ["::/0"],
        },
    ],
)
SERVICE_SG = res(
    SG,
    "service-sg",
    id="sg-service",
    ingress=[
        {"protocol": "tcp", "fromPort": 8000, "toPort": 8000, "securityGroups": ["sg-lb"]},
    ],
)


def balancer(**overrides: Any) -> Resource:
    props = {
        "loadBalancerType": "application",
        "internal": False,
        "securityGroups": ["sg-lb"],
        "dropInvalidHeaderFields": True,
        "enableDeletionProtection": True,
        "accessLogs": {"bucket": "logs-bucket", "enabled": True},
        "arn": "arn:lb/app",
        "desyncMitigationMode": "defensive",
        **overrides,
    }
    return res(LB, "lb", **props)


REDIRECT = {
    "type": "redirect",
    "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"},
}
FORWARD = {"type": "forward", "targetGroupArn": "arn:tg"}


def task(**container: Any) -> Resource:
    app = {
        "name": "app",
        "image": "repo@sha256:0",
        "readonlyRootFilesystem": True,
        "privileged": False,
        "user": "10001:10001",
        "environment": [{"name": "DB_HOST", "value": "db"}],
        "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:secret"}],
        "logConfiguration": {"logDriver": "awslogs", "options": {}},
        **container,
    }
    return res(TASK, "task", family="app", containerDefinitions=json.dumps([app]))


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


SCOPED_WRITE = {
    "Effect": "Allow",
    "Action": ["s3:PutObject", "s3:GetObject"],
    "Resource": "arn:aws:s3:::media-bucket/*",
}
TRUST_ECS = document(
    {
        "Effect": "Allow",
        "Principal": {"Service": "ecs-tasks.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
)


CASES: list[Case] = [
    # RDS
    case("rds-storage-encrypted", db(storageEncrypted=False), db()),
    case("rds-not-public", db(publiclyAccessible=True), db()),
    case("rds-backup-retention", db(backupRetentionPeriod=7), db()),
    case("rds-deletion-protection", db(deletionProtection=False), db()),
    case("rds-final-snapshot", db(skipFinalSnapshot=True), db()),
    case("rds-multi-az", db(multiAz=False), db()),
    case("rds-performance-insights", db(performanceInsightsKmsKeyId=None), db()),
    case("rds-iam-auth", db(iamDatabaseAuthenticationEnabled=False), db()),
    case("rds-auto-minor-upgrade", db(autoMinorVersionUpgrade=False), db()),
    case("rds-log-exports", db(enabledCloudwatchLogsExports=["upgrade"]), db()),
    case("rds-force-ssl", [db(), params("0")], [db(), params("1")]),
    case(
        "rds-backup-plan",
        [db(), res(SELECTION, "sel", resources=["arn:aws:rds:us-east-1:123456789012:db:other"])],
        [db(), res(SELECTION, "sel", resources=[GOOD_DB["arn"]])],
    ),
    # S3
    case(
        "s3-public-access-block",
        [MEDIA, pab(MEDIA, restrictPublicBuckets=False)],
        [MEDIA, pab(MEDIA)],
    ),
    case("s3-encryption", [MEDIA], [MEDIA, sse(MEDIA, "aws:kms")], absent=True),
    case(
        "s3-kms-encryption",
        [MEDIA, sse(MEDIA, "AES256", None)],
        [MEDIA, sse(MEDIA, "aws:kms"), LOGS, sse(LOGS, "AES256", None), balancer()],
    ),
    case(
        "s3-versioning",
        [MEDIA, versioning(MEDIA, "Suspended")],
        [MEDIA, versioning(MEDIA, "Enabled")],
    ),
    case(
        "s3-deny-insecure-transport",
        [MEDIA, res(BUCKET_POLICY, "media-policy", bucket="media-bucket", policy=READ_POLICY)],
        [MEDIA, res(BUCKET_POLICY, "media-policy", bucket="media-bucket", policy=TLS_ONLY_POLICY)],
    ),
    # Network
    case(
        "sg-no-public-admin-ports",
        res(
            SG_RULE,
            "ssh",
            type="ingress",
            protocol="tcp",
            fromPort=22,
            toPort=22,
            cidrBlocks=["0.0.0.0/0"],
            securityGroupId="sg-x",
        ),
        res(
            SG_RULE,
            "ssh",
            type="ingress",
            protocol="tcp",
            fromPort=22,
            toPort=22,
            cidrBlocks=["10.0.0.0/16"],
            securityGroupId="sg-x",
        ),
    ),
    case(
        "sg-public-ingress-web-only",
        [
            SERVICE_SG,
            res(
                INGRESS,
                "service-open",
                deps={"securityGroupId": [SERVICE_SG]},
                securityGroupId="sg-service",
                cidrIpv4="0.0.0.0/0",
                ipProtocol="tcp",
                fromPort=443,
                toPort=443,
            ),
            balancer(),
        ],
        [LB_SG, SERVICE_SG, balancer()],
    ),
    case(
        "default-sg-no-rules",
        [
            MAIN_VPC,
            res(
                DEFAULT_SG,
                "default-sg",
                vpcId="vpc-1",
                ingress=[{"protocol": "-1", "fromPort": 0, "toPort": 0, "self": True}],
            ),
        ],
        [MAIN_VPC, res(DEFAULT_SG, "default-sg", vpcId="vpc-1", ingress=[], egress=[])],
    ),
    case(
        "vpc-flow-logs",
        [MAIN_VPC],
        [
            MAIN_VPC,
            res(FLOW_LOG, "flow", deps={"vpcId": [MAIN_VPC]}, vpcId="vpc-1", trafficType="ALL"),
        ],
        absent=True,
    ),
    case(
        "ecs-no-public-ip",
        res(SERVICE, "svc", networkConfiguration={"assignPublicIp": True, "subnets": ["s"]}),
        res(SERVICE, "svc", networkConfiguration={"assignPublicIp": False, "subnets": ["s"]}),
    ),
    # Load balancer
    case(
        "alb-https-only",
        res(LISTENER, "http", protocol="HTTP", port=80, defaultActions=[FORWARD]),
        res(LISTENER, "http", protocol="HTTP", port=80, defaultActions=[REDIRECT]),
    ),
    case(
        "alb-tls-policy",
        res(LISTENER, "https", protocol="HTTPS", port=443, sslPolicy="ELBSecurityPolicy-2016-08"),
        res(
            LISTENER,
            "https",
            protocol="HTTPS",
            port=443,
            sslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        ),
    ),
    case("alb-drop-invalid-headers", balancer(dropInvalidHeaderFields=False), balancer()),
    case("alb-deletion-protection", balancer(enableDeletionProtection=False), balancer()),
    case(
        "alb-access-logs",
        balancer(accessLogs={"bucket": "logs-bucket", "enabled": False}),
        balancer(),
    ),
    case("alb-desync-mitigation", balancer(desyncMitigationMode="monitor"), balancer()),
    case(
        "alb-waf",
        [balancer()],
        [balancer(), res(WAF_ASSOCIATION, "waf", resourceArn="arn:lb/app", webAclArn="arn:acl")],
        absent=True,
    ),
    # Encryption at rest
    case(
        "kms-key-rotation",
        res(KMS, "key", enableKeyRotation=False),
        res(KMS, "key", enableKeyRotation=True),
    ),
    case(
        "log-group-kms",
        res(LOG_GROUP, "logs", retentionInDays=30),
        res(LOG_GROUP, "logs", retentionInDays=30, kmsKeyId=KEY_ARN),
        absent=True,
    ),
    case(
        "log-group-retention",
        res(LOG_GROUP, "logs", kmsKeyId=KEY_ARN),
        res(LOG_GROUP, "logs", retentionInDays=30, kmsKeyId=KEY_ARN),
        absent=True,
    ),
    case(
        "ecr-kms",
        res(ECR, "repo", encryptionConfigurations=[{"encryptionType": "AES256"}]),
        res(ECR, "repo", encryptionConfigurations=[{"encryptionType": "KMS", "kmsKey": KEY_ARN}]),
    ),
    case(
        "sns-topic-encrypted",
        res(SNS, "alerts"),
        res(SNS, "alerts", kmsMasterKeyId=KEY_ARN),
        absent=True,
    ),
    case(
        "sqs-queue-encrypted",
        res(SQS, "jobs", sqsManagedSseEnabled=False),
        res(SQS, "jobs", sqsManagedSseEnabled=True),
    ),
    case("secret-cmk", res(SECRET, "key"), res(SECRET, "key", kmsKeyId=KEY_ARN), absent=True),
    case(
        "prometheus-workspace-encrypted-and-logged",
        res(AMP, "ws", kmsKeyArn=KEY_ARN),
        res(
            AMP,
            "ws",
            kmsKeyArn=KEY_ARN,
            loggingConfiguration={"logGroupArn": "arn:aws:logs:us-east-1:1:log-group:p:*"},
        ),
        absent=True,
    ),
    # Containers
    case(
        "ecr-scan-on-push",
        res(ECR, "repo", imageScanningConfiguration={"scanOnPush": False}),
        res(ECR, "repo", imageScanningConfiguration={"scanOnPush": True}),
    ),
    case(
        "ecr-immutable-tags",
        res(ECR, "repo", imageTagMutability="MUTABLE"),
        res(ECR, "repo", imageTagMutability="IMMUTABLE"),
    ),
    case("ecs-readonly-rootfs", task(readonlyRootFilesystem=False), task()),
    case("ecs-non-privileged", task(privileged=True), task()),
    case("ecs-non-root-user", task(user="root"), task()),
    case(
        "ecs-no-secrets-in-environment",
        task(environment=[{"name": "DD_API_KEY", "value": "abc123"}]),
        task(),
    ),
    case("ecs-logging", task(logConfiguration=None), task()),
    case(
        "ecs-container-insights",
        res(CLUSTER, "cluster", settings=[{"name": "containerInsights", "value": "disabled"}]),
        res(CLUSTER, "cluster", settings=[{"name": "containerInsights", "value": "enabled"}]),
    ),
    case(
        "ecs-circuit-breaker",
        res(SERVICE, "svc", deploymentCircuitBreaker={"enable": True, "rollback": False}),
        res(SERVICE, "svc", deploymentCircuitBreaker={"enable": True, "rollback": True}),
    ),
    # IAM
    case(
        "iam-no-admin",
        res(
            ROLE_POLICY,
            "admin",
            policy=document({"Effect": "Allow", "Action": "*", "Resource": "*"}),
        ),
        res(ROLE_POLICY, "scoped", policy=document(SCOPED_WRITE)),
    ),
    case(
        "iam-no-wildcard-actions",
        res(
            IAM_POLICY,
            "wild",
            policy=document(
                {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::media-bucket/*"}
            ),
        ),
        res(IAM_POLICY, "scoped", policy=document(SCOPED_WRITE)),
    ),
    case(
        "iam-no-unscoped-write",
        res(
            ROLE,
            "role",
            assumeRolePolicy=TRUST_ECS,
            inlinePolicies=[
                {
                    "name": "write",
                    "policy": document(
                        {"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": "*"}
                    ),
                }
            ],
        ),
        res(
            ROLE,
            "role",
            assumeRolePolicy=TRUST_ECS,
            inlinePolicies=[
                {
                    "name": "read",
                    "policy": document(
                        {
                            "Effect": "Allow",
                            "Action": ["ec2:DescribeInstances", "cloudwatch:PutMetricData"],
                            "Resource": "*",
                        }
                    ),
                }
            ],
        ),
    ),
    case(
        "iam-trust-no-wildcard-principal",
        res(
            ROLE,
            "role",
            assumeRolePolicy=document(
                {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
            ),
        ),
        res(ROLE, "role", assumeRolePolicy=TRUST_ECS),
    ),
    # Cognito
    case(
        "cognito-password-policy",
        res(USER_POOL, "users", passwordPolicy={"minimumLength": 8}),
        res(USER_POOL, "users", passwordPolicy={"minimumLength": 12}),
    ),
    case(
        "cognito-mfa",
        res(USER_POOL, "users", mfaConfiguration="OFF"),
        res(USER_POOL, "users", mfaConfiguration="OPTIONAL"),
    ),
    case(
        "cognito-deletion-protection",
        res(USER_POOL, "users", deletionProtection="INACTIVE"),
        res(USER_POOL, "users", deletionProtection="ACTIVE"),
    ),
    # Backup
    case(
        "backup-vault-kms", res(VAULT, "vault"), res(VAULT, "vault", kmsKeyArn=KEY_ARN), absent=True
    ),
    case(
        "backup-plan-retention",
        res(PLAN, "plan", rules=[{"ruleName": "daily", "lifecycle": {"deleteAfter": 14}}]),
        res(PLAN, "plan", rules=[{"ruleName": "daily", "lifecycle": {"deleteAfter": 35}}]),
    ),
]

# Google Cloud rules (tests/policy/gcp_cases.py).
CASES.extend(GCP_CASES)
