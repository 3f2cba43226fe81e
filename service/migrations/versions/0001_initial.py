"""Initial schema: users, practices, practice states, events, config.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.models import EventId, JsonDocument, UtcDateTime

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("first_seen_at", UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("subject", name="pk_users"),
    )
    op.create_index("ix_users_last_seen_at", "users", ["last_seen_at"])

    op.create_table(
        "practices",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("media_key", sa.String(512), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_practices"),
        sa.CheckConstraint("duration_seconds >= 0", name="duration_not_negative"),
    )
    op.create_index("ix_practices_published_id", "practices", ["published", "id"])

    op.create_table(
        "practice_states",
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("practice_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("state", JsonDocument, nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("server_updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "practice_id", name="pk_practice_states"),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name="fk_practice_states_practice_id_practices",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "status IN ('not_started', 'in_progress', 'completed')",
            name="status_known",
        ),
        sa.CheckConstraint("progress >= 0 AND progress <= 1", name="progress_in_range"),
    )
    op.create_index("ix_practice_states_practice_id", "practice_states", ["practice_id"])

    op.create_table(
        "events",
        sa.Column("id", EventId, autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("properties", JsonDocument, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_user_id_occurred_at", "events", ["user_id", "occurred_at"])
    op.create_index("ix_events_name_occurred_at", "events", ["name", "occurred_at"])

    op.create_table(
        "config",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", JsonDocument, nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_config"),
    )


def downgrade() -> None:
    op.drop_table("config")
    op.drop_table("events")
    op.drop_table("practice_states")
    op.drop_table("practices")
    op.drop_table("users")
