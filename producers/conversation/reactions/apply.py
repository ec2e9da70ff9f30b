"""Carry out the reaction policy for a batch of facts in one PostgreSQL transaction.

Memory rows, outbox events and outbound messages are written together, so a crash either
leaves everything or nothing, and a redelivered fact finds its effects already there (the
deterministic event ids make the outbox ignore repeats). The transaction takes the batch's
conversation key locks first (sorted, `OutboxWriter.lock`), then their rows. Tenants, their
messaging gate and the memory rows are read once per batch; the memory is then carried
forward in process (`remember`) from one fact of a conversation to the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import Boolean, Column, MetaData, Table, Text, Uuid, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from sqlalchemy.types import DateTime

from nmc.contract.envelope import new_event
from nmc.contract.keys import record_key
from producers.conversation.messaging_gate import messaging_gate
from producers.conversation.outbound import SENDER_CHANNEL, queue_outbound
from producers.conversation.reactions.decide import (
    HANDLED,
    Action,
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
    remember,
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


Conversation = tuple[UUID, UUID]


@dataclass(frozen=True)
class TenantView:
    """What a batch needs of a tenant: its auto-reply text and its messaging gate."""

    auto_reply: str
    gate: Gate


def _tenants(session: Session, ids: set[UUID]) -> dict[UUID, TenantView]:
    """Tenants of the directory among `ids` (facts of others are not ours to answer)."""
    if not ids:
        return {}
    rows = session.execute(
        select(tenants.c.tenant_id, tenants.c.name, tenants.c.auto_reply_template)
        .where(tenants.c.tenant_id.in_(ids))
    ).all()
    found = {}
    for row in rows:
        decision = messaging_gate(session, row.tenant_id)
        found[row.tenant_id] = TenantView(
            str(row.auto_reply_template).replace("{business}", str(row.name)),
            Gate(decision.allowed, decision.reasons))
    return found


def _memories(session: Session, keys: set[Conversation]) -> dict[Conversation, Memory]:
    """The memory rows of these conversations, locked for the transaction."""
    if not keys:
        return {}
    c = conversation_reactions.c
    rows = session.execute(
        select(c.tenant_id, c.correlation_id, c.started, c.auto_reply, c.takeover_at)
        .where(tuple_(c.tenant_id, c.correlation_id).in_(sorted(keys)))
        .order_by(c.tenant_id, c.correlation_id)
        .with_for_update()
    ).all()
    return {(r.tenant_id, r.correlation_id): Memory(
        started=bool(r.started), auto_reply_decided=r.auto_reply is not None,
        takeover=r.takeover_at is not None) for r in rows}


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


def react(session: Session, fact: Trigger) -> list[object]:
    """Apply one fact inside the caller's transaction; returns the actions taken."""
    return list(react_batch(session, [fact])[0])


def react_batch(session: Session, facts: Sequence[Trigger]) -> list[list[Action]]:
    """Apply facts, in order, inside the caller's transaction; the actions taken per fact."""
    handled = [f for f in facts if f.name in HANDLED]
    directory = _tenants(session, {f.tenant_id for f in handled})
    ours = [f for f in handled if f.tenant_id in directory]
    # Lock order (producers/edges/README.md): the conversations' key locks before any row of
    # them — the reaction memory here, the thread row in queue_outbound — as the webhooks do,
    # so a reaction and an inbound SMS of one caller cannot deadlock.
    WRITER.lock(session, *{record_key(f.tenant_id, f.correlation_id) for f in ours})
    memories = _memories(session, {(f.tenant_id, f.correlation_id) for f in ours})
    results: list[list[Action]] = []
    queued = False
    for fact in facts:
        tenant = directory.get(fact.tenant_id)
        if fact.name not in HANDLED or tenant is None:
            results.append([])
            continue
        key = (fact.tenant_id, fact.correlation_id)
        memory = memories.get(key, Memory())
        actions = decide(fact, memory, tenant.gate)
        queued |= _carry_out(session, fact, actions, tenant)
        memories[key] = remember(memory, actions)
        results.append(actions)
    if queued:  # one wake-up of the sender for the batch
        session.execute(text(f"SELECT pg_notify('{SENDER_CHANNEL}', '')"))
    return results


def _carry_out(session: Session, fact: Trigger, actions: list[Action],
               tenant: TenantView) -> bool:
    """Write one fact's actions; True when a text was queued."""
    queued = False
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
                body=tenant.auto_reply, conversation_id=fact.correlation_id,
                causation_id=conversation_started_id(fact.tenant_id, fact.correlation_id),
                message_id=action.message_id, now=fact.occurred_at, notify=False,
            )
            queued = True
            _upsert(session, fact, auto_reply="queued", auto_reply_reason=None,
                    auto_reply_message_id=action.message_id)
        elif isinstance(action, SuppressAutoReply):
            _upsert(session, fact, auto_reply="suppressed", auto_reply_reason=action.reason)
        elif isinstance(action, RecordTakeover):
            _upsert(session, fact, takeover_user_id=action.user_id,
                    takeover_at=fact.occurred_at)
    return queued
