"""Conversation reactions' memory: started, takeover, the auto-reply decision and its reason.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE conversation_reactions (
            tenant_id            uuid        NOT NULL,
            correlation_id       uuid        NOT NULL,
            started              boolean     NOT NULL DEFAULT false,
            caller_phone         text,
            started_event_id     uuid        NOT NULL,
            takeover_user_id     uuid,
            takeover_at          timestamptz,
            auto_reply           text CHECK (auto_reply IN ('queued', 'suppressed')),
            auto_reply_reason    text,
            auto_reply_message_id uuid,
            updated_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
            PRIMARY KEY (tenant_id, correlation_id)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE conversation_reactions")
