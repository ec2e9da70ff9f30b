"""Carry out the reaction policy in one PostgreSQL transaction per fact.

Memory row, outbox events and outbound message are written together, so a crash either
leaves everything or nothing, and a redelivered fact finds its effects already there (the
deterministic event ids make the outbox ignore repeats). The transaction takes the
conversation's key lock first (`OutboxWriter.lock_conversation`), then its rows.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Boolean, Column, MetaData, Table, Text, Uuid, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from sqlalchemy.types import DateTime

from nmc.contract.envelope import new_event
from producers.conversation.messaging_gate import messaging_gate
from producers.conversation.outbound import queue_outbound
from producers.conversation.reactions.decide import (
    HANDLED,
    Gate,
    Memory,
    QueueAutoReply,
    RecordInbound,
    RecordTakeover,
    StartConversation,
    SuppressAutoReply,
    Trigger,
    conversation_started_id,
    decide,
)
from producers.outbox import OutboxWriter
from producers.tenants.table import tenants

conversation_reactions = Table(
    "conversation_reactions",
    MetaData(),
    Column("tenant_id", Uuid, primary_key=True),
    Column("correlation_id", Uuid, primary_key=True),
    Column("started", Boolean, nullable=False),
    Column("caller_phone", Text),
    Column("started_event_id", Uuid, nullable=False),
    Column("takeover_user_id", Uuid),
    Column("takeover_at", DateTime(timezone=True)),
    Column("auto_reply", Text),
    Column("auto_reply_reason", Text),
    Column("auto_reply_message_id", Uuid),
    Column("updated_at", DateTime(timezone=True)),
)

WRITER = OutboxWriter()


def _memory(session: Session, fact: Trigger) -> Memory:
    row = session.execute(
        select(conversation_reactions)
        .where(conversation_reactions.c.tenant_id == fact.tenant_id,
               conversation_reactions.c.correlation_id == fact.correlation_id)
        .with_for_update()
    ).first()
    if row is None:
        return Memory()
    return Memory(started=bool(row.started), auto_reply_decided=row.auto_reply is not None,
                  takeover=row.takeover_at is not None)


def _upsert(session: Session, fact: Trigger, **values: object) -> None:
    base = {"tenant_id": fact.tenant_id, "correlation_id": fact.correlation_id,
            "started": False,
            "started_event_id": conversation_started_id(fact.tenant_id, fact.correlation_id),
            "updated_at": datetime.now(UTC)}
    stmt = insert(conversation_reactions).values({**base, **values})
    session.execute(stmt.on_conflict_do_update(
        index_elements=["tenant_id", "correlation_id"],
        set_={k: stmt.excluded[k] for k in [*values, "updated_at"]},
    ))


def _auto_reply_text(session: Session, fact: Trigger) -> str:
    row = session.execute(
        select(tenants.c.name, tenants.c.auto_reply_template)
        .where(tenants.c.tenant_id == fact.tenant_id)
    ).first()
    if row is None:
        raise LookupError(f"tenant {fact.tenant_id} is not in the tenant directory")
    return str(row.auto_reply_template).replace("{business}", str(row.name))


def _known_tenant(session: Session, fact: Trigger) -> bool:
    """Facts of tenants outside this directory (another environment, a deleted tenant) are
    not ours to answer."""
    found = session.execute(
        select(tenants.c.tenant_id).where(tenants.c.tenant_id == fact.tenant_id)
    ).first()
    return found is not None


def react(session: Session, fact: Trigger) -> list[object]:
    """Apply one fact inside the caller's transaction; returns the actions taken."""
    if fact.name not in HANDLED or not _known_tenant(session, fact):
        return []
    # Lock order (producers/edges/README.md): the conversation's key lock before any row of
    # the conversation — the reaction memory here, the thread row in queue_outbound — as the
    # webhooks do, so a reaction and an inbound SMS of one caller cannot deadlock.
    WRITER.lock_conversation(session, fact.tenant_id, fact.correlation_id)
    memory = _memory(session, fact)
    decision = messaging_gate(session, fact.tenant_id)
    actions = decide(fact, memory, Gate(decision.allowed, decision.reasons))
    for action in actions:
        if isinstance(action, StartConversation):
            WRITER.append(session, new_event(
                "nmc.conversation.ConversationStarted", event_id=action.event_id,
                tenant_id=fact.tenant_id, correlation_id=fact.correlation_id,
                causation_id=fact.event_id, occurred_at=fact.occurred_at,
                payload={"conversation_id": str(fact.correlation_id),
                         "caller_phone": action.caller_phone},
            ))
            _upsert(session, fact, started=True, caller_phone=action.caller_phone)
        elif isinstance(action, RecordInbound):
            WRITER.append(session, new_event(
                "nmc.conversation.MessageSent", event_id=action.event_id,
                tenant_id=fact.tenant_id, correlation_id=fact.correlation_id,
                causation_id=fact.event_id, occurred_at=fact.occurred_at,
                payload={"message_id": str(action.message_id),
                         "conversation_id": str(fact.correlation_id),
                         "direction": "in", "status": "delivered"},
            ))
        elif isinstance(action, QueueAutoReply):
            queue_outbound(
                session, tenant_id=fact.tenant_id, correlation_id=fact.correlation_id,
                to_phone=action.to_phone, from_phone=action.from_phone,
                body=_auto_reply_text(session, fact), conversation_id=fact.correlation_id,
                causation_id=conversation_started_id(fact.tenant_id, fact.correlation_id),
                message_id=action.message_id, now=fact.occurred_at,
            )
            _upsert(session, fact, auto_reply="queued", auto_reply_reason=None,
                    auto_reply_message_id=action.message_id)
        elif isinstance(action, SuppressAutoReply):
            _upsert(session, fact, auto_reply="suppressed", auto_reply_reason=action.reason)
        elif isinstance(action, RecordTakeover):
            _upsert(session, fact, takeover_user_id=action.user_id,
                    takeover_at=fact.occurred_at)
    return list(actions)
