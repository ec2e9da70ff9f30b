"""W3C trace context travels with the work: a nullable `traceparent` on the outbox row (the
relay sends it as the Kafka header `traceparent`) and on the queued text (the sender continues
the reactor's trace). Both nullable, no index: no query filters on them, and adding a nullable
column without a default rewrites nothing (the relay's fetch keeps its plan).

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE outbox_events ADD COLUMN traceparent text")
    op.execute("ALTER TABLE outbound_messages ADD COLUMN traceparent text")


def downgrade() -> None:
    op.execute("ALTER TABLE outbound_messages DROP COLUMN traceparent")
    op.execute("ALTER TABLE outbox_events DROP COLUMN traceparent")
