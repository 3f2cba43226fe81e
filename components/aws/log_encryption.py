"""The KMS key-policy statement that lets CloudWatch Logs use a key for exactly one log group.

Shared by the service's log group (components/aws/container_service.py) and the WAF log group
(components/aws/edge.py); used with `components.aws.policy_documents.key_policy` / `customer_key`.
"""

from __future__ import annotations

from typing import Any

import pulumi

LOGS_KEY_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
                    "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
                    "kms:DescribeKey"]  # fmt: skip


def logs_key_statement(
    account_id: pulumi.Input[str], region: pulumi.Input[str], log_group_name: str
) -> dict[str, Any]:
    """CloudWatch Logs of this region may use the key, only for `log_group_name`."""
    return {
        "Sid": "CloudWatchLogsForOneLogGroup",
        "Effect": "Allow",
        "Principal": {"Service": pulumi.Output.concat("logs.", region, ".amazonaws.com")},
        "Action": LOGS_KEY_ACTIONS,
        "Resource": "*",
        "Condition": {
            "ArnEquals": {
                "kms:EncryptionContext:aws:logs:arn": pulumi.Output.concat(
                    "arn:aws:logs:", region, ":", account_id, ":log-group:", log_group_name
                )
            }
        },
    }
