"""What the service's one-off jobs read, so the stacks hand them that and nothing more.

`python -m service migrate|maintain` load the service's settings with `serving=False`
(service/settings.py): the database connection (URL or parts, its credentials, TLS, IAM sign-in,
pool, and the service's own role that `migrate` grants: DB_APP_ROLE, DB_APP_ROLE_IAM),
ENVIRONMENT, LOG_LEVEL and EVENT_RETENTION_DAYS. The serving settings (the bucket, the issuer,
the admin panel's session key and OIDC client) are neither read nor required by them, so the
ECS tasks and Cloud Run jobs that run them never receive those. An allow-list, not a deny-
list: a variable added for the server stays out of the jobs unless it is named here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

JOB_VARIABLES = frozenset(
    {"ENVIRONMENT", "DATABASE_URL", "DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD",
     "DB_IAM_AUTH", "DB_SSLMODE", "DB_SSLROOTCERT", "DB_POOL_SIZE", "LOG_LEVEL",
     "EVENT_RETENTION_DAYS", "DB_APP_ROLE", "DB_APP_ROLE_IAM"}
)  # fmt: skip

Value = TypeVar("Value")


def job_only(variables: Mapping[str, Value]) -> dict[str, Value]:
    """The variables of `variables` a job reads, and no other."""
    return {name: value for name, value in variables.items() if name in JOB_VARIABLES}
