"""SQLAlchemy Core views of the edge tables (created by migration 0002)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    Table,
    Text,
    Uuid,
)

metadata = MetaData()

threads = Table(
    "threads",
    metadata,
    Column("correlation_id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("caller_phone", Text, nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("last_activity_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    Column("last_outbound_event_id", Uuid),
)

calls = Table(
    "calls",
    metadata,
    Column("call_id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("call_sid", Text, nullable=False, unique=True),
    Column("from_phone", Text, nullable=False),
    Column("to_phone", Text, nullable=False),
    Column("call_status", Text, nullable=False),
    Column("correlation_id", Uuid, nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

inbound_messages = Table(
    "inbound_messages",
    metadata,
    Column("message_id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("message_sid", Text, nullable=False, unique=True),
    Column("from_phone", Text, nullable=False),
    Column("to_phone", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("correlation_id", Uuid, nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

outbound_messages = Table(
    "outbound_messages",
    metadata,
    Column("message_id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("correlation_id", Uuid, nullable=False),
    Column("conversation_id", Uuid, nullable=False),
    Column("to_phone", Text, nullable=False),
    Column("from_phone", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("queued_event_id", Uuid, nullable=False),
    Column("provider_sid", Text, unique=True),
    Column("error_code", Text),
    Column("attempts", Integer, nullable=False),
    Column("claimed_by", Uuid),
    Column("claimed_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # W3C trace context of the reaction that queued it (migration 0008): the send joins it.
    Column("traceparent", Text),
)

stripe_events = Table(
    "stripe_events",
    metadata,
    Column("stripe_event_id", Text, primary_key=True),
    Column("event_type", Text, nullable=False),
    Column("tenant_id", Uuid, nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("applied", Boolean, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("stripe_subscription_id", Text, primary_key=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("stripe_customer_id", Text, nullable=False),
    Column("plan", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("current_period_end", DateTime(timezone=True), nullable=False),
    Column("source_created", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

compliance_campaigns = Table(
    "compliance_campaigns",
    metadata,
    Column("tenant_id", Uuid, primary_key=True),
    Column("campaign_id", Uuid, primary_key=True),
    Column("status", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

catalog_items = Table(
    "catalog_items",
    metadata,
    Column("tenant_id", Uuid, primary_key=True),
    Column("item_id", Uuid, primary_key=True),
    Column("name", Text, nullable=False),
    Column("price_cents", Integer, nullable=False),
    Column("duration_minutes", Integer, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

reservations = Table(
    "reservations",
    metadata,
    Column("hold_id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("resource_id", Uuid, nullable=False),
    Column("start_at", DateTime(timezone=True), nullable=False),
    Column("end_at", DateTime(timezone=True), nullable=False),
    Column("status", Text, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("correlation_id", Uuid, nullable=False),
    Column("customer_phone", Text),
    Column("service_item_id", Uuid),
    Column("appointment_id", Uuid, unique=True),
    Column("held_event_id", Uuid, nullable=False),
    Column("booked_event_id", Uuid),
    Column("cancelled_reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
