"""How each new PostgreSQL connection authenticates: TLS mode, and IAM tokens (Cloud SQL, RDS).

`DB_SSLMODE` (libpq's names) and `DB_SSLROOTCERT` set the TLS requirement. `DB_IAM_AUTH=gcp`
makes the password of every new connection a current OAuth access token of the process's
Google credentials (Application Default Credentials: the metadata server on Cloud Run), which
Cloud SQL's IAM database authentication accepts for the service account's database user.
`DB_IAM_AUTH=aws` makes it an RDS IAM authentication token: a SigV4-signed `connect` request
for the database user, made locally with the process's AWS credentials (the task role on ECS),
valid 15 minutes, which RDS accepts for a user granted `rds_iam`. The same arguments go to
SQLAlchemy's engine and to the map store's asyncpg pool, and both share one token provider, so
a token is made once per expiry, not once per connection.
"""

from __future__ import annotations

import functools
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
IAM_AUTH_MODES = ("gcp", "aws")
CLOUD_SQL_LOGIN_SCOPE = "https://www.googleapis.com/auth/sqlservice.login"
# An RDS token is valid for 15 minutes; a new one is made after 10, so a connection never
# starts its handshake with one about to lapse (an open connection outlives its token).
RDS_TOKEN_REUSE_SECONDS = 600.0


class GoogleAccessToken:
    """A current access token of the Application Default Credentials, refreshed off the loop.

    google-auth counts a token as expired a few minutes before its `expires_in`, so a
    connection never starts its handshake with a token about to lapse.
    """

    def __init__(self, credentials: Any | None = None) -> None:
        self._credentials: Any = credentials
        # A thread lock, not an asyncio one: the provider outlives event loops (tests, CLI).
        self._lock = threading.Lock()
        #: How many times a token was fetched; observable for tests.
        self.refresh_count = 0

    async def __call__(self) -> str:
        credentials = self._credentials
        if credentials is not None and credentials.valid:
            token: str = credentials.token
            return token
        return await anyio.to_thread.run_sync(self._refreshed_token)

    def _refreshed_token(self) -> str:
        import google.auth
        from google.auth.transport.requests import Request

        with self._lock:  # concurrent connects share one refresh
            if self._credentials is None:
                self._credentials, _ = google.auth.default(scopes=[CLOUD_SQL_LOGIN_SCOPE])
            if not self._credentials.valid:
                self._credentials.refresh(Request())
                self.refresh_count += 1
            fresh: str = self._credentials.token
            return fresh


@dataclass(frozen=True)
class RdsUser:
    """Who an RDS token signs in: the endpoint the client connects to, the user, the region."""

    host: str
    port: int
    user: str
    region: str


class RdsAuthToken:
    """An RDS IAM authentication token for one user, remade off the loop when it gets old.

    Made by botocore from the default credential chain (on ECS, the task role's credentials,
    which botocore refreshes itself); nothing is sent anywhere to make it.
    """

    def __init__(
        self,
        target: RdsUser,
        client: Any | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.target = target
        self._client: Any = client
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._made_at = 0.0
        #: How many tokens were made; observable for tests.
        self.refresh_count = 0

    def _fresh(self) -> str | None:
        if self._token is not None and self._clock() - self._made_at < RDS_TOKEN_REUSE_SECONDS:
            return self._token
        return None

    async def __call__(self) -> str:
        token = self._fresh()
        if token is not None:
            return token
        return await anyio.to_thread.run_sync(self._new_token)

    def _new_token(self) -> str:
        with self._lock:  # concurrent connects share one token
            token = self._fresh()
            if token is not None:
                return token
            if self._client is None:
                import boto3

                self._client = boto3.session.Session().client(
                    "rds", region_name=self.target.region
                )
            made: str = self._client.generate_db_auth_token(
                DBHostname=self.target.host,
                Port=self.target.port,
                DBUsername=self.target.user,
                Region=self.target.region,
            )
            self._token, self._made_at = made, self._clock()
            self.refresh_count += 1
            return made


@functools.cache
def ssl_argument(mode: str | None, root_cert: str | None) -> str | ssl.SSLContext | None:
    """asyncpg's `ssl=`: libpq's mode names; a context when a root certificate must verify."""
    if mode is None:
        return None
    if mode in ("verify-ca", "verify-full") or (mode == "require" and root_cert):
        context = ssl.create_default_context(cafile=root_cert)
        # libpq: verify-ca checks the chain only; require with a root cert behaves like it.
        context.check_hostname = mode == "verify-full"
        return context
    return mode


@functools.cache
def _shared_token() -> GoogleAccessToken:
    return GoogleAccessToken()


@functools.cache
def _shared_rds_token(target: RdsUser) -> RdsAuthToken:
    return RdsAuthToken(target)


def connect_args(
    iam_auth: str | None,
    ssl_mode: str | None,
    root_cert: str | None,
    rds_user: RdsUser | None = None,
) -> dict[str, Any]:
    """Keyword arguments for `asyncpg.connect` (and SQLAlchemy's `connect_args`)."""
    args: dict[str, Any] = {}
    tls = ssl_argument(ssl_mode, root_cert)
    if tls is not None:
        args["ssl"] = tls
    if iam_auth == "gcp":
        args["password"] = _shared_token()
    elif iam_auth == "aws":
        if rds_user is None:
            raise ValueError("DB_IAM_AUTH=aws needs the database's host, port, user and region")
        args["password"] = _shared_rds_token(rds_user)
    return args
