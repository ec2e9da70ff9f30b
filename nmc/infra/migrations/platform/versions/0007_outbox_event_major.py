"""One outbox row per event and major: a major change's transition window writes an event at
two majors (same event_id, each with its own schema_version), so `event_id` alone is no
longer unique; (event_id, schema_major) is, and the writer's idempotence keys on it.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE outbox_events ADD COLUMN schema_major smallint GENERATED ALWAYS AS "
        "(split_part(schema_version, '.', 1)::smallint) STORED"
    )
    op.execute("ALTER TABLE outbox_events ADD CONSTRAINT outbox_events_event_major_key "
               "UNIQUE (event_id, schema_major)")
    op.execute("ALTER TABLE outbox_events DROP CONSTRAINT outbox_events_event_id_key")


def downgrade() -> None:
    op.execute("ALTER TABLE outbox_events ADD CONSTRAINT outbox_events_event_id_key "
               "UNIQUE (event_id)")
    op.execute("ALTER TABLE outbox_events DROP CONSTRAINT outbox_events_event_major_key")
    op.execute("ALTER TABLE outbox_events DROP COLUMN schema_major")
