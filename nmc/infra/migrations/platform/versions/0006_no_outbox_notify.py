"""Take the NOTIFY off the hot outbox write path; the sender's fair-claim bookkeeping.

The statement trigger `outbox_events_notify` made every outbox-writing transaction notify, and
PostgreSQL serializes the commits of all notifying transactions cluster-wide (async.c,
PreCommit_Notify). The relay polls adaptively instead (producers/relay/relay.py).
`sender_turns` remembers when each tenant last had a text claimed (round-robin claiming).

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS outbox_events_notify ON outbox_events")
    op.execute("DROP FUNCTION IF EXISTS outbox_events_notify()")
    op.execute(
        """
        CREATE TABLE sender_turns (
            tenant_id       uuid PRIMARY KEY,
            last_claimed_at timestamptz NOT NULL
        )
        """
    )
    op.execute(
        "CREATE INDEX outbound_messages_queued_tenant ON outbound_messages "
        "(tenant_id, created_at) WHERE status = 'queued'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX outbound_messages_queued_tenant")
    op.execute("DROP TABLE sender_turns")
    op.execute(
        """
        CREATE FUNCTION outbox_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('nmc_outbox', '');
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER outbox_events_notify AFTER INSERT ON outbox_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION outbox_events_notify()"
    )
