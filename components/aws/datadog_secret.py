"""The Datadog API key in Secrets Manager, for the agent sidecar and the FireLens log router.

ECS injects it into the containers from the secret (`secrets` / `secretOptions`), so the key is
never a plain value in the task definition. In Pulumi state it only exists as a secret.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws.policy_documents import account_context, customer_key, key_policy


@dataclass
class DatadogApiKeySecretArgs:
    api_key: pulumi.Input[str]
    # None: a dedicated customer managed key (rotated yearly). Pass an existing key's ARN to
    # share one; only the task execution role is granted its use (ContainerService).
    kms_key_arn: pulumi.Input[str] | None = None
    recovery_window_in_days: int = 7

    def __post_init__(self) -> None:
        if not 7 <= self.recovery_window_in_days <= 30:
            raise ValueError(
                "recovery_window_in_days must be between 7 and 30 (a deleted Datadog key secret "
                f"stays recoverable), got {self.recovery_window_in_days}"
            )


class DatadogApiKeySecret(pulumi.ComponentResource):
    """A Secrets Manager secret whose string is the plain Datadog API key."""

    secret_arn: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: DatadogApiKeySecretArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("awaterra:datadog_secret:DatadogApiKeySecret", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if args.kms_key_arn is None:
            account = account_context(self)
            key = customer_key(
                f"{name}-key",
                "Encrypts the Datadog API key secret",
                key_policy(account.account_id),
                child,
            )
            self.kms_key_arn = key.arn
        else:
            self.kms_key_arn = pulumi.Output.from_input(args.kms_key_arn)
        secret = aws.secretsmanager.Secret(
            f"{name}-secret",
            description="Datadog API key for the agent sidecar and the FireLens log router",
            kms_key_id=self.kms_key_arn,
            recovery_window_in_days=args.recovery_window_in_days,
            opts=child,
        )
        version = aws.secretsmanager.SecretVersion(
            f"{name}-version",
            secret_id=secret.id,
            secret_string=pulumi.Output.secret(args.api_key),
            opts=child,
        )
        # Handing out the ARN only once the value is stored keeps tasks from starting on an
        # empty secret.
        self.secret_arn = pulumi.Output.all(secret.arn, version.id).apply(lambda both: both[0])
        self.register_outputs({"secret_arn": self.secret_arn, "kms_key_arn": self.kms_key_arn})
