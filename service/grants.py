"""What the serving role may do to the schema `migrate` owns: read and write rows, nothing more.

Where the jobs sign in as the schema's owner and the service as a role of its own (Google
Cloud: two IAM database users, `DB_APP_ROLE` names the service's), `migrate` grants that role,
after every upgrade:

- USAGE on the schema, SELECT/INSERT/UPDATE/DELETE on its tables and USAGE/SELECT on its
  sequences (the events' ids), and the same by default on what the owner creates later (the
  partitions `maintain` attaches, tables of future migrations);
- never UPDATE or DELETE on `audit_log` (its trigger refuses them too: the record of admins'
  changes is append-only), never a write to `alembic_version`;
- no DDL: it owns nothing, so it can neither alter, drop, truncate nor attach anything.

On AWS (`DB_APP_ROLE_IAM=aws`) the role is this program's to make: `migrate`, signed in as the
RDS master user, creates it when it is missing (LOGIN, no password: it cannot sign in with
one) and grants it `rds_iam`, so it signs in with IAM tokens only (`DB_IAM_AUTH=aws`). On Google
Cloud the stack creates the IAM database user and `migrate` only checks that it exists.

Idempotent (GRANT and REVOKE of what is already so change nothing), and a role that is the
owner itself is left alone: it has every privilege already.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

SCHEMA = "public"
RDS_IAM_ROLE = "rds_iam"  # RDS's role for users that sign in with IAM tokens
# Tables the service may read but must not rewrite: (table, privileges taken back).
READ_MOSTLY: tuple[tuple[str, str], ...] = (
    ("audit_log", "UPDATE, DELETE, TRUNCATE"),
    ("alembic_version", "INSERT, UPDATE, DELETE, TRUNCATE"),
)


class GrantError(RuntimeError):
    """The serving role cannot be granted its privileges (it does not exist, say)."""


def quote_role(role: str) -> str:
    """A role name as a PostgreSQL identifier (IAM users carry '@' and '.')."""
    return '"' + role.replace('"', '""') + '"'


def grant_statements(role: str) -> list[str]:
    """The statements that give `role` the service's privileges on the schema, in order."""
    who = quote_role(role)
    statements = [
        f"GRANT USAGE ON SCHEMA {SCHEMA} TO {who}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {SCHEMA} TO {who}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {SCHEMA} TO {who}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {SCHEMA} "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {who}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {SCHEMA} GRANT USAGE, SELECT ON SEQUENCES TO {who}",
    ]
    statements += [f"REVOKE {taken} ON {table} FROM {who}" for table, taken in READ_MOSTLY]
    return statements


def _role_exists(connection: Connection, role: str) -> bool:
    found = connection.execute(
        text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}
    ).first()
    return found is not None


def role_to_grant(connection: Connection, role: str, iam: str | None = None) -> str | None:
    """`role` when it must be granted, None when it is the current user (the owner itself).

    With `iam="aws"` a missing role is created (LOGIN, no password) and granted `rds_iam`.
    Raises GrantError when the role cannot be had, before the schema is changed."""
    current = connection.exec_driver_sql("SELECT current_user").scalar_one()
    if role == current:
        if iam is not None:
            raise GrantError(
                f"DB_APP_ROLE {role!r} is the user migrate signs in as: the service's role "
                "must be another one when it signs in with IAM (DB_APP_ROLE_IAM)"
            )
        return None
    if iam == "aws":
        if not _role_exists(connection, RDS_IAM_ROLE):
            raise GrantError(
                f"DB_APP_ROLE_IAM=aws needs the {RDS_IAM_ROLE} role, which only RDS has: "
                "this server is not an RDS instance; nothing was changed"
            )
        if not _role_exists(connection, role):
            connection.exec_driver_sql(f"CREATE ROLE {quote_role(role)} LOGIN")
        connection.exec_driver_sql(f"GRANT {RDS_IAM_ROLE} TO {quote_role(role)}")
    elif not _role_exists(connection, role):
        raise GrantError(
            f"DB_APP_ROLE names role {role!r}, which does not exist in this database server "
            "(on Google Cloud it is the service's IAM database user, created by the stack); "
            "nothing was changed"
        )
    return role


def grant_app_role(connection: Connection, role: str) -> None:
    """Grant `role` (as `role_to_grant` returned it) the service's privileges.

    Runs in the caller's transaction, so the grants land with the migration or not at all."""
    for statement in grant_statements(role):
        connection.exec_driver_sql(statement)
