"""Tables of the tenant directory (created by migration 0002)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, MetaData, Table, Text, Uuid

metadata = MetaData()

tenants = Table(
    "tenants",
    metadata,
    Column("tenant_id", Uuid, primary_key=True),
    Column("name", Text, nullable=False),
    Column("stripe_customer_id", Text, unique=True),
    Column("auto_reply_template", Text, nullable=False),
    Column("time_zone", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

tenant_numbers = Table(
    "tenant_numbers",
    metadata,
    Column("phone", Text, primary_key=True),
    Column("tenant_id", Uuid, ForeignKey("tenants.tenant_id", ondelete="CASCADE"), nullable=False),
)
