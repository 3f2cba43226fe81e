"""How each new PostgreSQL connection authenticates: TLS mode, and IAM tokens for Cloud SQL.

`DB_SSLMODE` (libpq's names) and `DB_SSLROOTCERT` set the TLS requirement; `DB_IAM_AUTH=gcp`
makes the password of every new connection a current OAuth access token of the process's
Google credentials (Application Default Credentials: the metadata server on Cloud Run), which
Cloud SQL's IAM database authentication accepts for the service account's database user. The
same arguments go to SQLAlchemy's engine and to the map store's asyncpg pool, and both share
one token provider, so a token is fetched once per expiry, not once per connection.
"""

from __future__ import annotations

import functools
import ssl
import threading
from typing import Any

import anyio.to_thread

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
IAM_AUTH_MODES = ("gcp",)
CLOUD_SQL_LOGIN_SCOPE = "https://www.googleapis.com/auth/sqlservice.login"


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


def connect_args(
    iam_auth: str | None, ssl_mode: str | None, root_cert: str | None
) -> dict[str, Any]:
    """Keyword arguments for `asyncpg.connect` (and SQLAlchemy's `connect_args`)."""
    args: dict[str, Any] = {}
    tls = ssl_argument(ssl_mode, root_cert)
    if tls is not None:
        args["ssl"] = tls
    if iam_auth == "gcp":
        args["password"] = _shared_token()
    return args
