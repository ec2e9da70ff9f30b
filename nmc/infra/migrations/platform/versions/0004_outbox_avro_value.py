"""The outbox row's stored value: the Confluent-framed Avro bytes the writer encoded.

A trigger clears it when a column it encodes changes (an operator repairing a payload), so
a repaired row is encoded afresh by the relay and stale bytes are never published.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE outbox_events ADD COLUMN avro_value bytea")
    op.execute(
        """
        CREATE FUNCTION outbox_events_clear_avro_value() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            NEW.avro_value := NULL;
            RETURN NEW;
        END
        $$
        """
    )
    # `UPDATE OF` these columns only: the relay's settle UPDATE never fires it.
    op.execute(
        """
        CREATE TRIGGER outbox_events_clear_avro_value
        BEFORE UPDATE OF payload, event_id, event_name, schema_version, tenant_id,
                         correlation_id, causation_id, occurred_at
        ON outbox_events FOR EACH ROW
        WHEN (NEW.avro_value IS NOT NULL AND (
              NEW.payload IS DISTINCT FROM OLD.payload
              OR NEW.event_id IS DISTINCT FROM OLD.event_id
              OR NEW.event_name IS DISTINCT FROM OLD.event_name
              OR NEW.schema_version IS DISTINCT FROM OLD.schema_version
              OR NEW.tenant_id IS DISTINCT FROM OLD.tenant_id
              OR NEW.correlation_id IS DISTINCT FROM OLD.correlation_id
              OR NEW.causation_id IS DISTINCT FROM OLD.causation_id
              OR NEW.occurred_at IS DISTINCT FROM OLD.occurred_at))
        EXECUTE FUNCTION outbox_events_clear_avro_value()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER outbox_events_clear_avro_value ON outbox_events")
    op.execute("DROP FUNCTION outbox_events_clear_avro_value()")
    op.execute("ALTER TABLE outbox_events DROP COLUMN avro_value")
