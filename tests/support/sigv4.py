"""Checks an RDS IAM authentication token as RDS does: a SigV4 presigned `connect` request.

Written from AWS's Signature Version 4 description (canonical request, string to sign, the
derived signing key), not from botocore's code, so a token botocore made and this accepts is
one that the signing rules accept.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class TokenRefused(ValueError):
    """The token is not a valid RDS connect request for what was asked."""


@dataclass(frozen=True)
class Checked:
    host: str
    user: str
    access_key: str
    region: str
    signed_at: datetime
    expires_seconds: int


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def check_rds_token(token: str, secret_key: str, now: datetime | None = None) -> Checked:
    """Parse and verify `token` (`host:port/?Action=connect&...`) with `secret_key`."""
    if "://" in token or "/?" not in token:
        raise TokenRefused("not host:port/?query")
    host, _, query = token.partition("/?")
    params = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=True))
    if params.get("Action") != "connect" or "DBUser" not in params:
        raise TokenRefused("not a connect request for a user")
    if params.get("X-Amz-Algorithm") != ALGORITHM or params.get("X-Amz-SignedHeaders") != "host":
        raise TokenRefused("not signed with SigV4 over the host header")
    signature = params.pop("X-Amz-Signature", "")
    access_key, date, region, service, terminator = params["X-Amz-Credential"].split("/")
    if service != "rds-db" or terminator != "aws4_request":
        raise TokenRefused(f"signed for {service!r}, not rds-db")
    stamp = params["X-Amz-Date"]
    if not stamp.startswith(date):
        raise TokenRefused("the credential's date is not the request's")
    canonical_query = "&".join(
        f"{_encode(key)}={_encode(value)}" for key, value in sorted(params.items())
    )
    canonical_request = "\n".join(
        ["GET", "/", canonical_query, f"host:{host}", "", "host", EMPTY_SHA256]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        [ALGORITHM, stamp, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = _hmac(f"AWS4{secret_key}".encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise TokenRefused("signature does not match")
    signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    expires = int(params["X-Amz-Expires"])
    if now is not None and not signed_at <= now <= signed_at + timedelta(seconds=expires):
        raise TokenRefused("expired or not yet valid")
    return Checked(host, params["DBUser"], access_key, region, signed_at, expires)

