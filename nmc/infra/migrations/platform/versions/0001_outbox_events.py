"""Create outbox_events with its relay indexes and the NOTIFY wake-up trigger.

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE outbox_events (
            id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            event_id        uuid        NOT NULL UNIQUE,
            event_name      text        NOT NULL,
            schema_version  text        NOT NULL,
            tenant_id       uuid        NOT NULL,
            correlation_id  uuid        NOT NULL,
            causation_id    uuid,
            occurred_at     timestamptz NOT NULL,
            payload         jsonb       NOT NULL,
            topic           text        NOT NULL,
            record_key      text        NOT NULL,
            lane            smallint    NOT NULL
                GENERATED ALWAYS AS (((hashtext(record_key) & 2147483647) % 64)::smallint) STORED,
            state           text        NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'published', 'parked', 'skipped')),
            attempts        integer     NOT NULL DEFAULT 0,
            last_error      text,
            created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
            published_at    timestamptz,
            kafka_partition integer,
            kafka_offset    bigint
        )
        """
    )
    # The relay walks pending rows by id; lane is included so other relays' rows are skipped
    # without touching the heap.
    op.execute(
        "CREATE INDEX outbox_events_pending ON outbox_events (id) INCLUDE (lane) "
        "WHERE state = 'pending'"
    )
    op.execute(
        "CREATE INDEX outbox_events_parked ON outbox_events (record_key, id) WHERE state = 'parked'"
    )
    op.execute(
        "CREATE INDEX outbox_events_done ON outbox_events (published_at) "
        "WHERE state IN ('published', 'skipped')"
    )
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


def downgrade() -> None:
    op.execute("DROP TABLE outbox_events")
    op.execute("DROP FUNCTION outbox_events_notify()")
