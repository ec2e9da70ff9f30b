"""`remember`: a batch carries a conversation's memory from one fact to the next in process;
deciding a sequence that way equals deciding each fact on the memory the database would hold."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from producers.conversation.reactions.decide import (
    CALL_DETECTED,
    INBOUND_SMS,
    TAKEOVER,
    Gate,
    Memory,
    QueueAutoReply,
    RecordInbound,
    StartConversation,
    Trigger,
    decide,
    remember,
)

TENANT, THREAD = uuid.uuid4(), uuid.uuid4()


def _fact(name: str) -> Trigger:
    payload = {"from_phone": "+13105551212", "to_phone": "+13105550000",
               "message_id": str(uuid.uuid4()), "user_id": str(uuid.uuid4())}
    return Trigger(uuid.uuid4(), name, TENANT, THREAD, datetime.now(UTC), payload)


def _run(names: list[str], gate: Gate = Gate(True)) -> list[list[object]]:
    memory, out = Memory(), []
    for name in names:
        actions = decide(_fact(name), memory, gate)
        memory = remember(memory, actions)
        out.append([type(a) for a in actions])
    return out


def test_two_calls_in_one_batch_queue_one_auto_reply() -> None:
    assert _run([CALL_DETECTED, CALL_DETECTED]) == [[StartConversation, QueueAutoReply], []]


def test_an_inbound_text_then_a_call_starts_once() -> None:
    assert _run([INBOUND_SMS, CALL_DETECTED]) == [[StartConversation, RecordInbound],
                                                  [QueueAutoReply]]


def test_takeover_first_suppresses_in_the_same_batch() -> None:
    memory = remember(Memory(), decide(_fact(TAKEOVER), Memory(), Gate(True)))
    assert memory.takeover and not memory.started
    assert remember(memory, decide(_fact(CALL_DETECTED), memory, Gate(True))) == Memory(
        started=True, auto_reply_decided=True, takeover=True)
