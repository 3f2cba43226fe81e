"""boto3 clients per (service, region), and the translation of AWS failures into plain sentences."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)


class BackupToolError(Exception):
    """An operator-fixable problem (credentials, names, regions); reported without a traceback."""


class AwsClients:
    """Creates and caches one client per (service, region) from one boto3 session."""

    def __init__(self, session: boto3.Session | None = None) -> None:
        self.session = session or boto3.Session()
        self._cache: dict[tuple[str, str], Any] = {}

    def require_credentials(self) -> None:
        """Fail early, with a sentence, when the default credential chain finds nothing."""
        if self.session.get_credentials() is None:
            raise BackupToolError(
                "no AWS credentials found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY), or run where an instance/task role is available"
            )

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._cache:
            self._cache[key] = self.session.client(service, region_name=region)
        return self._cache[key]

    def rds(self, region: str) -> Any:
        return self.client("rds", region)

    def s3(self, region: str) -> Any:
        return self.client("s3", region)

    def backup(self, region: str) -> Any:
        return self.client("backup", region)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def describe_aws_error(exc: Exception) -> str:
    """One line for the report; raises BackupToolError for problems no check can get past."""
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        raise BackupToolError(f"AWS credentials are missing or incomplete: {exc}") from exc
    if isinstance(exc, NoRegionError):
        raise BackupToolError("no AWS region: pass --region or set AWS_REGION") from exc
    if isinstance(exc, EndpointConnectionError):
        raise BackupToolError(f"cannot reach AWS: {exc}") from exc
    if isinstance(exc, ClientError):
        code = error_code(exc)
        if code in {
            "UnrecognizedClientException",
            "InvalidClientTokenId",
            "ExpiredToken",
            "ExpiredTokenException",
            "AuthFailure",
            "SignatureDoesNotMatch",
        }:
            raise BackupToolError(f"AWS rejected the credentials ({code})") from exc
        message = exc.response.get("Error", {}).get("Message", "")
        return f"{code}: {message}".rstrip(": ")
    if isinstance(exc, BotoCoreError):
        return str(exc)
    raise exc
