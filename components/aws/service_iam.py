"""IAM policy documents for the service's two roles, as plain functions of resolved ARNs.

Two roles, never one: the *execution* role is what the ECS agent uses before the code runs (pull
the image, write logs, read the secrets it injects); the *task* role is what the code itself can
do (only its bucket and that bucket's key, and signing in to its database as its own user).
Neither has a `*` action. The resources are exact ARNs with three unavoidable wildcards, each in
a resource path only:
- `ecr:GetAuthorizationToken` supports no resource-level permission (AWS requires `"*"`);
- log streams are named `<prefix>/<container>/<task id>`, unknown until a task starts, so the
  execution role may write `<log group>:log-stream:<prefix>/*` and nothing else;
- objects: the task role reaches `<bucket arn>/*` (every object of its own bucket).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

PolicyDocument = dict[str, Any]

ECR_PULL_ACTIONS = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer"]  # fmt: skip
LOG_WRITE_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"]
OBJECT_ACTIONS = ["s3:GetObject", "s3:PutObject"]
BUCKET_ACTIONS = ["s3:ListBucket"]
BUCKET_KEY_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey"]


def assume_role_policy(account_id: str, region: str) -> PolicyDocument:
    """Only ECS tasks of this account and region may assume the role (confused-deputy guard)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {"aws:SourceArn": f"arn:aws:ecs:{region}:{account_id}:*"},
                },
            }
        ],
    }


def _region_of(arn: str) -> str:
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        raise ValueError(f"not an ARN: {arn!r}")
    return parts[3]


def execution_policy(
    *,
    repository_arn: str,
    log_group_arn: str,
    log_stream_prefix: str,
    secret_arns: Sequence[str],
    secret_kms_key_arns: Sequence[str] = (),
) -> PolicyDocument:
    """Pull this repository's images, write this log group, read exactly these secrets."""
    if not secret_arns:
        raise ValueError("execution_policy: at least one secret (the database secret) is required")
    statements: list[dict[str, Any]] = [
        {"Sid": "RegistryLogin", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"],
         "Resource": "*"},
        {"Sid": "PullServiceImage", "Effect": "Allow", "Action": ECR_PULL_ACTIONS,
         "Resource": [repository_arn]},
        {"Sid": "WriteServiceLogs", "Effect": "Allow", "Action": LOG_WRITE_ACTIONS,
         "Resource": [f"{log_group_arn}:log-stream:{log_stream_prefix}/*"]},
        {"Sid": "ReadSecrets", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
         "Resource": sorted(set(secret_arns))},
    ]  # fmt: skip
    if secret_kms_key_arns:
        regions = sorted({_region_of(arn) for arn in secret_arns})
        statements.append(
            {
                "Sid": "DecryptSecrets",
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": sorted(set(secret_kms_key_arns)),
                "Condition": {
                    "StringEquals": {
                        "kms:ViaService": [f"secretsmanager.{r}.amazonaws.com" for r in regions]
                    }
                },
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def task_policy(
    *, bucket_arn: str, bucket_kms_key_arn: str | None, db_user_arn: str | None = None
) -> PolicyDocument:
    """The running service may read and write objects of its own bucket and, with
    `db_user_arn`, sign in to its database as that one user (RDS IAM tokens); nothing else."""
    if not bucket_arn.startswith("arn:aws") or "/" in bucket_arn or bucket_arn.endswith("*"):
        raise ValueError(f"task_policy: {bucket_arn!r} is not a bucket ARN")
    statements: list[dict[str, Any]] = [
        {"Sid": "ReadWriteObjects", "Effect": "Allow", "Action": OBJECT_ACTIONS,
         "Resource": [f"{bucket_arn}/*"]},
        {"Sid": "CheckBucket", "Effect": "Allow", "Action": BUCKET_ACTIONS,
         "Resource": [bucket_arn]},
    ]  # fmt: skip
    if bucket_kms_key_arn:
        statements.append(
            {"Sid": "UseBucketKey", "Effect": "Allow", "Action": BUCKET_KEY_ACTIONS,
             "Resource": [bucket_kms_key_arn]}
        )  # fmt: skip
    if db_user_arn is not None:
        if not db_user_arn.startswith("arn:aws") or ":dbuser:" not in db_user_arn or (
            "*" in db_user_arn
        ):
            raise ValueError(f"task_policy: {db_user_arn!r} is not one database user's ARN")
        statements.append(
            {"Sid": "SignInToDatabase", "Effect": "Allow", "Action": ["rds-db:connect"],
             "Resource": [db_user_arn]}
        )  # fmt: skip
    return {"Version": "2012-10-17", "Statement": statements}
