"""SQL over the read models. Every function takes the caller's tenant as its first argument
and every statement filters on it: there is no query here that can return another tenant's
row, whatever the other arguments say.

The tables are the stream apps' own definitions (`nmc_streams.db`), so a renamed column breaks
mypy/tests here instead of silently at run time. `rpt_daily` is a view, declared locally.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Column,
    Connection,
    Date,
    Integer,
    MetaData,
    Numeric,
    Row,
    Table,
    Uuid,
    literal,
    select,
    text,
    tuple_,
)

from nmc_streams.api.cursor import ConversationKey
from nmc_streams.db import (
    conv_conversations,
    conv_messages,
    rpt_compliance,
    rpt_subscriptions,
    sched_appointments,
    sched_holds,
)

_views = MetaData()
_DAILY_COUNTS = (
    "missed_calls", "missed_calls_no_answer", "missed_calls_busy", "missed_calls_failed",
    "converted_calls", "conversations_started", "messages_in", "messages_out", "delivered",
    "failed", "holds", "bookings", "releases", "cancellations", "cancellations_user",
    "cancellations_tenant", "cancellations_system", "cancellations_conflict", "catalog_changes",
)
rpt_daily = Table(
    "rpt_daily",
    _views,
    Column("tenant_id", Uuid(as_uuid=False)),
    Column("day", Date),
    *(Column(name, Integer) for name in _DAILY_COUNTS),
    Column("conversion_rate", Numeric(asdecimal=False)),
)

_CONVERSATION_COLUMNS = [c for c in conv_conversations.c if c.name not in ("tenant_id", "version")]
_MESSAGE_COLUMNS = [
    c for c in conv_messages.c
    if c.name not in ("tenant_id", "version", "conversation_id", "correlation_id", "provider_ref")
]


def _t(tenant_id: UUID) -> str:
    return str(tenant_id)


def ping(conn: Connection) -> None:
    """Readiness: the database answers a trivial query."""
    conn.execute(text("SELECT 1")).scalar_one()


def list_conversations(
    conn: Connection, tenant_id: UUID, status: str | None, after: ConversationKey | None,
    limit: int,
) -> Sequence[Row[Any]]:
    """One page, newest activity first; fetches `limit + 1` rows so the caller knows whether
    a next page exists without a COUNT."""
    c = conv_conversations.c
    stmt = select(*_CONVERSATION_COLUMNS).where(c.tenant_id == _t(tenant_id))
    if status is not None:
        stmt = stmt.where(c.status == status)
    if after is not None:
        # typed binds: a bare tuple would bind the id as varchar (no uuid < varchar operator)
        key = tuple_(
            literal(after.last_activity_at, c.last_activity_at.type),
            literal(str(after.conversation_id), c.conversation_id.type),
        )
        stmt = stmt.where(tuple_(c.last_activity_at, c.conversation_id) < key)
    stmt = stmt.order_by(c.last_activity_at.desc(), c.conversation_id.desc()).limit(limit + 1)
    return conn.execute(stmt).all()


def get_conversation(conn: Connection, tenant_id: UUID, conversation_id: UUID) -> Row[Any] | None:
    c = conv_conversations.c
    stmt = select(*_CONVERSATION_COLUMNS).where(
        c.tenant_id == _t(tenant_id), c.conversation_id == str(conversation_id)
    )
    return conn.execute(stmt).first()


def auto_reply_decision(
    conn: Connection, tenant_id: UUID, conversation_id: UUID
) -> Row[Any] | None:
    """The reactions' auto-reply decision (a conversation is its thread: same id)."""
    return conn.execute(
        text("SELECT auto_reply AS decision, auto_reply_reason AS reason, "
             "auto_reply_message_id AS message_id FROM conversation_reactions "
             "WHERE tenant_id = :t AND correlation_id = :c AND auto_reply IS NOT NULL"),
        {"t": str(tenant_id), "c": str(conversation_id)},
    ).first()


def conversation_messages(
    conn: Connection, tenant_id: UUID, conversation_id: UUID
) -> Sequence[Row[Any]]:
    m = conv_messages.c
    stmt = (
        select(*_MESSAGE_COLUMNS)
        .where(m.tenant_id == _t(tenant_id), m.conversation_id == str(conversation_id))
        .order_by(m.first_seen_at, m.message_id)
    )
    return conn.execute(stmt).all()


def _overlapping(
    table: Table, id_column: str, conn: Connection, tenant_id: UUID, resource_id: UUID,
    start: datetime, end: datetime, status: str | None,
) -> Sequence[Row[Any]]:
    """A resource's rows of `table` overlapping [start, end), tenant-scoped."""
    t = table.c
    stmt = select(*[col for col in t if col.name not in
                    ("tenant_id", "correlation_id", "version")]).where(
        t.tenant_id == _t(tenant_id), t.resource_id == str(resource_id),
        t.start_at < end, t.end_at > start,
    )
    if status is not None:
        stmt = stmt.where(t.status == status)
    return conn.execute(stmt.order_by(t.start_at, t[id_column])).all()


def resource_holds(
    conn: Connection, tenant_id: UUID, resource_id: UUID, start: datetime, end: datetime,
    status: str | None,
) -> Sequence[Row[Any]]:
    """Holds overlapping [start, end)."""
    return _overlapping(sched_holds, "hold_id", conn, tenant_id, resource_id, start, end, status)


def resource_appointments(
    conn: Connection, tenant_id: UUID, resource_id: UUID, start: datetime, end: datetime,
    status: str | None,
) -> Sequence[Row[Any]]:
    """Appointments overlapping [start, end)."""
    return _overlapping(sched_appointments, "appointment_id", conn, tenant_id, resource_id,
                        start, end, status)


def daily_reports(
    conn: Connection, tenant_id: UUID, start: date, end: date
) -> dict[date, dict[str, Any]]:
    """Days in [start, end] that have facts, keyed by day (the route fills the gaps)."""
    d = rpt_daily.c
    stmt = select(*[col for col in rpt_daily.c if col.name != "tenant_id"]).where(
        d.tenant_id == _t(tenant_id), d.day >= start, d.day <= end
    )
    return {row.day: dict(row._mapping) for row in conn.execute(stmt)}


def list_campaigns(conn: Connection, tenant_id: UUID) -> Sequence[Row[Any]]:
    r = rpt_compliance.c
    stmt = (
        select(r.campaign_id, r.status, r.changed_at)
        .where(r.tenant_id == _t(tenant_id))
        .order_by(r.campaign_id)
    )
    return conn.execute(stmt).all()


def get_campaign(conn: Connection, tenant_id: UUID, campaign_id: UUID) -> Row[Any] | None:
    r = rpt_compliance.c
    stmt = select(r.campaign_id, r.status, r.changed_at).where(
        r.tenant_id == _t(tenant_id), r.campaign_id == str(campaign_id)
    )
    return conn.execute(stmt).first()


def get_subscription(conn: Connection, tenant_id: UUID) -> Row[Any] | None:
    s = rpt_subscriptions.c
    stmt = select(*[col for col in rpt_subscriptions.c if col.name not in
                    ("tenant_id", "event_id")]).where(s.tenant_id == _t(tenant_id))
    return conn.execute(stmt).first()
