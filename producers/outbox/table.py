"""The `outbox_events` table (created by the Alembic migration in nmc/infra/migrations/platform).

Rows move ``pending -> published`` (or ``parked -> pending | skipped`` through an operator; a
row parked with a ``retry_at`` goes back to pending by itself then).
There is no cursor: the relay selects pending rows, so a transaction that commits late is
still found. ``lane`` is a stored hash of the record key; a relay must lease a lane before it
publishes its rows, which keeps one key on one relay at a time.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Computed,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

# Fixed by the migration's generated column; changing it needs a migration and a drained outbox.
OUTBOX_LANES = 64
LANE_EXPRESSION = f"((hashtext(record_key) & 2147483647) % {OUTBOX_LANES})::smallint"
NOTIFY_CHANNEL = "nmc_outbox"

metadata = MetaData()

outbox_events = Table(
    "outbox_events",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("event_id", Uuid, nullable=False),
    Column("event_name", Text, nullable=False),
    Column("schema_version", Text, nullable=False),
    # One row per event and major (a major change's window writes both; migration 0006).
    Column("schema_major", SmallInteger,
           Computed("split_part(schema_version, '.', 1)::smallint", persisted=True)),
    Column("tenant_id", Uuid, nullable=False),
    Column("correlation_id", Uuid, nullable=False),
    Column("causation_id", Uuid, nullable=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("topic", Text, nullable=False),
    Column("record_key", Text, nullable=False),
    Column("lane", SmallInteger, Computed(LANE_EXPRESSION, persisted=True)),
    Column("state", Text, nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text, nullable=True),
    Column(
        "created_at",
        DateTime(timezone=True),
        nullable=False,
        server_default=text("clock_timestamp()"),
    ),
    Column("published_at", DateTime(timezone=True), nullable=True),
    Column("kafka_partition", Integer, nullable=True),
    Column("kafka_offset", BigInteger, nullable=True),
    # The Confluent-framed Avro value, stored by the writer when it knew the schema id; a
    # trigger clears it when the payload (or another encoded column) is updated.
    Column("avro_value", LargeBinary, nullable=True),
    # A parked row the relay retries by itself (its schema version was unknown): when.
    Column("retry_at", DateTime(timezone=True), nullable=True),
    # W3C trace context of the span that wrote the row (migration 0008): the relay sends it as
    # the `traceparent` header. Optional: NULL when the writer does not trace.
    Column("traceparent", Text, nullable=True),
    UniqueConstraint("event_id", "schema_major", name="outbox_events_event_major_key"),
)
