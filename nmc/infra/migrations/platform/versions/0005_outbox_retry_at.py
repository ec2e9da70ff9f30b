"""When the relay puts a parked row back in line by itself.

A row whose schema version the relay cannot resolve (not registered yet) is parked like a
permanent error, so its key waits behind it, but with a `retry_at`; the relay requeues it
then. NULL: parked until an operator decides (`nmc outbox retry|skip`).

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE outbox_events ADD COLUMN retry_at timestamptz")
    op.execute(
        "CREATE INDEX outbox_events_retry_at ON outbox_events (retry_at) "
        "WHERE state = 'parked' AND retry_at IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX outbox_events_retry_at")
    op.execute("ALTER TABLE outbox_events DROP COLUMN retry_at")
