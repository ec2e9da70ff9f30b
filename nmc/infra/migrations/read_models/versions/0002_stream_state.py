"""Entity states of the stream apps, committed in the same transaction as their read models.

Revision ID: rm0002
Revises: rm0001
"""

from __future__ import annotations

from alembic import op

revision = "rm0002"
down_revision = "rm0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
CREATE TABLE stream_state (
    app text NOT NULL,
    key text NOT NULL,
    entity text NOT NULL,
    state jsonb NOT NULL,
    version integer NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app, key, entity)
)
"""
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS stream_state")
