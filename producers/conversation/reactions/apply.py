"""Carry out the reaction policy for a batch of facts in one PostgreSQL transaction.

Memory rows, outbox events and outbound messages are written together, so a crash either
leaves everything or nothing, and a redelivered fact finds its effects already there (the
deterministic event ids make the outbox ignore repeats). The transaction takes the batch's
conversation key locks first (sorted, `producers.outbox.lock_keys`), then their rows. Tenants, their
messaging gate and the memory rows are read once per batch; the memory is then carried
forward in process (`remember`) from one fact of a conversation to the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from opentelemetry.trace import Span, SpanKind, StatusCode
from sqlalchemy import (
    Boolean,
    Column,
    MetaData,
    Table,
    Text,
    Uuid,
    select,
    text,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import DateTime

from nmc.contract.envelope import Envelope, known_event
from nmc.contract.keys import record_key
from nmc.infra import tracing
from nmc.infra.db import execute_columns, unnest_rows
from producers.conversation.messaging_gate import messaging_gates
from producers.conversation.outbound import SENDER_CHANNEL, outbound_message
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
from producers.tables import outbound_messages, threads
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
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

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
    gates = messaging_gates(session, [row.tenant_id for row in rows])
    found = {}
    for row in rows:
        decision = gates[row.tenant_id]
        found[row.tenant_id] = TenantView(
            str(row.auto_reply_template).replace("{business}", str(row.name)),
            Gate(decision.allowed, decision.reasons))
    return found


_MEMORIES = (
    "SELECT m.tenant_id, m.correlation_id, m.started, m.auto_reply, m.takeover_at "
    f"FROM {conversation_reactions.name} AS m JOIN unnest(CAST(%(tenant_id)b AS uuid[]), "
    "CAST(%(correlation_id)b AS uuid[])) AS k(tenant_id, correlation_id) "
    "ON m.tenant_id = k.tenant_id AND m.correlation_id = k.correlation_id "
    "ORDER BY m.tenant_id, m.correlation_id FOR UPDATE OF m"
)


def _memories(session: Session, keys: set[Conversation]) -> dict[Conversation, Memory]:
    """The memory rows of these conversations, locked for the transaction. One statement of
    fixed text whatever the batch (an IN list of N pairs is a new statement to parse and
    plan for every batch size, and SQLAlchemy renders its 2N parameters in Python)."""
    if not keys:
        return {}
    rows = execute_columns(session, _MEMORIES, {"tenant_id": [t for t, _ in keys],
                                                "correlation_id": [c for _, c in keys]})
    return {(r.tenant_id, r.correlation_id): Memory(
        started=bool(r.started), auto_reply_decided=r.auto_reply is not None,
        takeover=r.takeover_at is not None) for r in rows}


_MERGED = ("caller_phone", "takeover_user_id", "takeover_at", "auto_reply",
           "auto_reply_reason", "auto_reply_message_id")
_MEMORY_COLUMNS = (
    ("tenant_id", "uuid"), ("correlation_id", "uuid"), ("started", "boolean"),
    ("caller_phone", "text"), ("started_event_id", "uuid"), ("takeover_user_id", "uuid"),
    ("takeover_at", "timestamptz"), ("auto_reply", "text"), ("auto_reply_reason", "text"),
    ("auto_reply_message_id", "uuid"), ("updated_at", "timestamptz"),
)
# What a row does not set keeps its stored value; `started` only turns on.
_UPSERT_MEMORY = (
    f"INSERT INTO {conversation_reactions.name} "
    f"({', '.join(name for name, _ in _MEMORY_COLUMNS)}) {unnest_rows(_MEMORY_COLUMNS)} "
    "ON CONFLICT (tenant_id, correlation_id) DO UPDATE SET "
    + ", ".join(f"{k} = coalesce(EXCLUDED.{k}, {conversation_reactions.name}.{k})"
                for k in _MERGED)
    + f", started = {conversation_reactions.name}.started OR EXCLUDED.started"
    ", updated_at = EXCLUDED.updated_at"
)
_TEXT_COLUMNS = (
    ("message_id", "uuid"), ("tenant_id", "uuid"), ("correlation_id", "uuid"),
    ("conversation_id", "uuid"), ("to_phone", "text"), ("from_phone", "text"),
    ("body", "text"), ("status", "text"), ("queued_event_id", "uuid"), ("attempts", "integer"),
    ("traceparent", "text"),
)
_INSERT_TEXTS = (
    f"INSERT INTO {outbound_messages.name} ({', '.join(name for name, _ in _TEXT_COLUMNS)}) "
    f"{unnest_rows(_TEXT_COLUMNS)} ON CONFLICT (message_id) DO NOTHING RETURNING message_id"
)
_LAST_OUTBOUND = (
    f"UPDATE {threads.name} SET last_outbound_event_id = r.eid "
    "FROM unnest(CAST(%(cid)b AS uuid[]), CAST(%(eid)b AS uuid[])) AS r(cid, eid) "
    f"WHERE {threads.name}.correlation_id = r.cid"
)


def _by_column(rows: Sequence[dict[str, Any]],
               columns: Sequence[tuple[str, str]]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name, _ in columns}


def _upsert_all(session: Session, rows: list[dict[str, Any]]) -> None:
    """One statement for the batch's memory rows (one row per conversation, merged in
    process): what a row does not set keeps its stored value, `started` only turns on."""
    if rows:
        execute_columns(session, _UPSERT_MEMORY, _by_column(rows, _MEMORY_COLUMNS))


@dataclass
class _Writes:
    """A batch's writes, gathered in fact order and issued as a few set-wise statements."""

    events: list[Envelope | UUID] = field(default_factory=list)  # UUID: a queued text's event
    texts: dict[UUID, tuple[dict[str, Any], Envelope]] = field(default_factory=dict)
    memory: dict[Conversation, dict[str, Any]] = field(default_factory=dict)
    traced: bool = False  # tracing on: each event and text carries its fact's reaction span
    traces: dict[UUID, str | None] = field(default_factory=dict)  # event id -> traceparent
    now: datetime = field(default_factory=lambda: datetime.now(UTC))  # memory's updated_at

    def remember(self, fact: Trigger, **values: object) -> None:
        key = (fact.tenant_id, fact.correlation_id)
        row = self.memory.get(key)
        if row is None:
            row = self.memory[key] = {
                "tenant_id": fact.tenant_id, "correlation_id": fact.correlation_id,
                "started": False,
                "started_event_id": conversation_started_id(fact.tenant_id, fact.correlation_id),
                **dict.fromkeys(_MERGED)}
        row.update(values, updated_at=self.now)

    def flush(self, session: Session, writer: OutboxWriter) -> None:
        """Texts first (only the new ones get their event), then the outbox in fact order,
        the threads' last outbound event, the memory rows; one sender wake-up."""
        new: set[UUID] = set()
        if self.texts:
            rows = [row for row, _ in self.texts.values()]
            new = set(execute_columns(session, _INSERT_TEXTS,
                                      _by_column(rows, _TEXT_COLUMNS)).scalars())
        events = [e if isinstance(e, Envelope) else self.texts[e][1]
                  for e in self.events if isinstance(e, Envelope) or e in new]
        writer.append_all(session, events, [self.traces.get(e.event_id) for e in events]
                          if self.traced else None, locked=True)  # react_batch took them
        if new:
            last = {row["correlation_id"]: row["queued_event_id"]  # in fact order: last wins
                    for mid, (row, _) in self.texts.items() if mid in new}
            execute_columns(session, _LAST_OUTBOUND,
                            {"cid": list(last), "eid": list(last.values())})
            session.execute(text(f"SELECT pg_notify('{SENDER_CHANNEL}', '')"))
        _upsert_all(session, list(self.memory.values()))


def react(session: Session, fact: Trigger, writer: OutboxWriter) -> list[object]:
    """Apply one fact inside the caller's transaction; returns the actions taken."""
    return list(react_batch(session, [fact], writer)[0])


def react_batch(session: Session, facts: Sequence[Trigger],
                writer: OutboxWriter) -> list[list[Action]]:
    """Apply facts, in order, inside the caller's transaction (their events through `writer`,
    its root's); the actions taken per fact."""
    handled = [f for f in facts if f.name in HANDLED]
    directory = _tenants(session, {f.tenant_id for f in handled})
    ours = [f for f in handled if f.tenant_id in directory]
    # Lock order (producers/edges/README.md): the conversations' key locks before any row of
    # them — the reaction memory here, the thread row in queue_outbound — as the webhooks do,
    # so a reaction and an inbound SMS of one caller cannot deadlock. Every event the batch
    # writes is of one of these conversations: its outbox append takes no lock again.
    writer.lock(session, *{record_key(f.tenant_id, f.correlation_id) for f in ours})
    memories = _memories(session, {(f.tenant_id, f.correlation_id) for f in ours})
    results: list[list[Action]] = []
    writes = _Writes(traced=tracing.enabled())
    spans: list[Span] = []
    try:
        for fact in facts:
            tenant = directory.get(fact.tenant_id)
            if fact.name not in HANDLED or tenant is None:
                results.append([])
                continue
            key = (fact.tenant_id, fact.correlation_id)
            memory = memories.get(key, Memory())
            actions = decide(fact, memory, tenant.gate)
            planned = len(writes.events)
            _plan(writes, fact, actions, tenant)
            if writes.traced:
                _trace(writes, fact, actions, planned, spans)
            memories[key] = remember(memory, actions)
            results.append(actions)
        writes.flush(session, writer)
    except BaseException as exc:
        for span in spans:
            span.set_status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        for span in spans:
            span.end()
    return results


_TRACER = tracing.tracer("reactor")


def _trace(writes: _Writes, fact: Trigger, actions: list[Action], planned: int,
           spans: list[Span]) -> None:
    """A `react` span for a fact that came with a trace context (child of its publish span);
    the fact's new events and queued text carry it, so the sender continues the trace."""
    parent = tracing.parent_from(fact.traceparent)
    if parent is None:
        return
    span = _TRACER.start_span(
        f"react {fact.name.rsplit('.', 1)[-1]}", context=parent, kind=SpanKind.CONSUMER,
        attributes={"nmc.event_id": str(fact.event_id), "nmc.event_name": fact.name,
                    "nmc.actions": [type(a).__name__ for a in actions]})
    spans.append(span)
    traceparent = tracing.traceparent_of(span)
    for planned_event in writes.events[planned:]:
        if isinstance(planned_event, Envelope):
            writes.traces[planned_event.event_id] = traceparent
        else:  # a queued text: its row and its MessageSent(queued)
            row, event = writes.texts[planned_event]
            row["traceparent"] = traceparent
            writes.traces[event.event_id] = traceparent


def _plan(writes: _Writes, fact: Trigger, actions: list[Action], tenant: TenantView) -> None:
    """Gather one fact's writes."""
    for action in actions:
        if isinstance(action, StartConversation):
            writes.events.append(known_event(
                "nmc.conversation.ConversationStarted", event_id=action.event_id,
                tenant_id=fact.tenant_id, correlation_id=fact.correlation_id,
                causation_id=fact.event_id, occurred_at=fact.occurred_at,
                payload={"conversation_id": fact.correlation_id,  # UUIDs: not parsed again
                         "caller_phone": action.caller_phone},
            ))
            writes.remember(fact, started=True, caller_phone=action.caller_phone)
        elif isinstance(action, RecordInbound):
            writes.events.append(known_event(
                "nmc.conversation.MessageSent", event_id=action.event_id,
                tenant_id=fact.tenant_id, correlation_id=fact.correlation_id,
                causation_id=fact.event_id, occurred_at=fact.occurred_at,
                payload={"message_id": action.message_id,
                         "conversation_id": fact.correlation_id,
                         "direction": "in", "status": "delivered"},
            ))
        elif isinstance(action, QueueAutoReply):
            writes.texts[action.message_id] = outbound_message(
                tenant_id=fact.tenant_id, correlation_id=fact.correlation_id,
                to_phone=action.to_phone, from_phone=action.from_phone,
                body=tenant.auto_reply, conversation_id=fact.correlation_id,
                causation_id=conversation_started_id(fact.tenant_id, fact.correlation_id),
                message_id=action.message_id, now=fact.occurred_at,
            )
            writes.events.append(action.message_id)
            writes.remember(fact, auto_reply="queued", auto_reply_message_id=action.message_id)
        elif isinstance(action, SuppressAutoReply):
            writes.remember(fact, auto_reply="suppressed", auto_reply_reason=action.reason)
        elif isinstance(action, RecordTakeover):
            writes.remember(fact, takeover_user_id=action.user_id, takeover_at=fact.occurred_at)
