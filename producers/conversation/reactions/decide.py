"""The reaction policy as a pure function: triggering facts in, actions out.

A conversation is a thread (tenant, caller) and its id is the thread's correlation_id
(producers/conversation/threads.py). The first fact of a thread starts the conversation; the first
missed call of a conversation queues the tenant's auto-reply unless the messaging gate is
closed or a human took the conversation over. Every action carries ids derived from the
conversation or the causing event, so a replay yields the same ids and downstream dedupe holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

from nmc.contract.ids import stable_id

CALL_DETECTED = "nmc.telephony.CallDetected"
INBOUND_SMS = "nmc.telephony.InboundSmsReceived"
TAKEOVER = "nmc.conversation.HumanTakeoverRequested"
HANDLED = frozenset({CALL_DETECTED, INBOUND_SMS, TAKEOVER})


@dataclass(frozen=True)
class Trigger:
    """The fact a reaction answers (`nmc.contract.facts.Trigger`, typed for the database)."""

    event_id: UUID
    name: str
    tenant_id: UUID
    correlation_id: UUID
    occurred_at: datetime
    payload: dict[str, Any]
    traceparent: str | None = None  # the record's W3C trace context header, if it had one


@dataclass(frozen=True)
class Memory:
    """What the reactions remember of a conversation (table conversation_reactions)."""

    started: bool = False
    auto_reply_decided: bool = False
    takeover: bool = False


@dataclass(frozen=True)
class Gate:
    allowed: bool
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class StartConversation:
    event_id: UUID
    caller_phone: str


@dataclass(frozen=True)
class QueueAutoReply:
    message_id: UUID
    to_phone: str
    from_phone: str


@dataclass(frozen=True)
class SuppressAutoReply:
    reason: str


@dataclass(frozen=True)
class RecordInbound:
    event_id: UUID
    message_id: UUID


@dataclass(frozen=True)
class RecordTakeover:
    user_id: UUID


Action = StartConversation | QueueAutoReply | SuppressAutoReply | RecordInbound | RecordTakeover


@lru_cache(maxsize=1 << 16)
def conversation_started_id(tenant_id: UUID, correlation_id: UUID) -> UUID:
    """Cached (pure): a batch derives it up to three times per conversation."""
    return stable_id("event", "ConversationStarted", tenant_id, correlation_id)


def auto_reply_message_id(tenant_id: UUID, correlation_id: UUID) -> UUID:
    return stable_id("auto-reply", tenant_id, correlation_id)


def decide(fact: Trigger, memory: Memory, gate: Gate) -> list[Action]:
    """Actions for one fact given the conversation's memory and the tenant's messaging gate."""
    if fact.name == TAKEOVER:
        return [RecordTakeover(UUID(fact.payload["user_id"]))]
    if fact.name not in (CALL_DETECTED, INBOUND_SMS):
        return []
    caller = fact.payload["from_phone"]
    actions: list[Action] = []
    if not memory.started:
        actions.append(
            StartConversation(conversation_started_id(fact.tenant_id, fact.correlation_id), caller)
        )
    if fact.name == INBOUND_SMS:
        message_id = UUID(fact.payload["message_id"])
        actions.append(RecordInbound(stable_id("event", "MessageSent", message_id, "in"),
                                     message_id))
        return actions
    if memory.auto_reply_decided:
        return actions  # one auto-reply decision per conversation
    if memory.takeover:
        actions.append(SuppressAutoReply("a human took the conversation over"))
    elif not gate.allowed:
        actions.append(SuppressAutoReply("; ".join(gate.reasons) or "messaging gate closed"))
    else:
        actions.append(
            QueueAutoReply(
                auto_reply_message_id(fact.tenant_id, fact.correlation_id),
                to_phone=caller,
                from_phone=fact.payload["to_phone"],
            )
        )
    return actions


def remember(memory: Memory, actions: list[Action]) -> Memory:
    """The conversation's memory after `actions` were carried out (a batch decides its next
    fact of the same conversation on it before anything is re-read)."""
    started, decided, takeover = memory.started, memory.auto_reply_decided, memory.takeover
    for action in actions:
        if isinstance(action, StartConversation):
            started = True
        elif isinstance(action, QueueAutoReply | SuppressAutoReply):
            decided = True
        elif isinstance(action, RecordTakeover):
            takeover = True
    return Memory(started=started, auto_reply_decided=decided, takeover=takeover)


def missed_calls_first(records: Sequence[tuple[str | None, bytes | None]]) -> list[list[int]]:
    """A batch's records (event_name header, record key) as the parts to apply in turn, each
    in its own transaction, each in record order: first every handled record of a
    conversation with a missed call in the batch, then the rest; one part when either is
    empty. The record key is the conversation (`tenant_id:correlation_id`), so a
    conversation's facts stay together and in order, and a missed call's auto-reply is
    committed (and handed to the sender) before the batch's other facts are even decoded."""
    calls = {key for name, key in records if name == CALL_DETECTED}
    first = [i for i, (name, key) in enumerate(records) if name in HANDLED and key in calls]
    if not first or len(first) == len(records):
        return [list(range(len(records)))] if records else []
    chosen = set(first)
    return [first, [i for i in range(len(records)) if i not in chosen]]
