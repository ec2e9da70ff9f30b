"""The reaction policy, without a database or a broker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from producers.conversation.reactions.decide import (
    CALL_DETECTED,
    INBOUND_SMS,
    TAKEOVER,
    Gate,
    Memory,
    QueueAutoReply,
    RecordInbound,
    RecordTakeover,
    StartConversation,
    SuppressAutoReply,
    Trigger,
    auto_reply_message_id,
    decide,
)

TENANT, THREAD = uuid.uuid4(), uuid.uuid4()
OPEN = Gate(True)


def fact(name: str, **payload: str) -> Trigger:
    base = {"from_phone": "+13105551212", "to_phone": "+13105550000"}
    return Trigger(uuid.uuid4(), name, TENANT, THREAD, datetime(2025, 9, 1, tzinfo=UTC),
                {**base, **payload})


def test_first_missed_call_starts_the_conversation_and_queues_the_auto_reply() -> None:
    actions = decide(fact(CALL_DETECTED), Memory(), OPEN)
    assert [type(a) for a in actions] == [StartConversation, QueueAutoReply]
    reply = actions[1]
    assert isinstance(reply, QueueAutoReply)
    assert (reply.to_phone, reply.from_phone) == ("+13105551212", "+13105550000")
    assert reply.message_id == auto_reply_message_id(TENANT, THREAD)


def test_ids_do_not_depend_on_the_causing_event_so_replays_match() -> None:
    first = decide(fact(CALL_DETECTED), Memory(), OPEN)
    again = decide(fact(CALL_DETECTED), Memory(), OPEN)  # another event id, same thread
    assert first == again


def test_one_auto_reply_decision_per_conversation() -> None:
    assert decide(fact(CALL_DETECTED), Memory(started=True, auto_reply_decided=True), OPEN) == []


def test_closed_gate_says_why() -> None:
    actions = decide(fact(CALL_DETECTED), Memory(), Gate(False, ("no subscription",)))
    assert actions[-1] == SuppressAutoReply("no subscription")


def test_takeover_suppresses_the_auto_reply() -> None:
    actions = decide(fact(CALL_DETECTED), Memory(started=True, takeover=True), OPEN)
    assert actions == [SuppressAutoReply("a human took the conversation over")]


def test_inbound_sms_is_recorded_and_never_auto_answered() -> None:
    message_id = str(uuid.uuid4())
    actions = decide(fact(INBOUND_SMS, message_id=message_id), Memory(started=True), OPEN)
    assert len(actions) == 1 and isinstance(actions[0], RecordInbound)
    assert str(actions[0].message_id) == message_id


def test_takeover_is_remembered() -> None:
    user = str(uuid.uuid4())
    assert decide(fact(TAKEOVER, user_id=user), Memory(), OPEN) == [RecordTakeover(uuid.UUID(user))]


@given(st.booleans(), st.booleans(), st.booleans(), st.booleans())
def test_at_most_one_auto_reply_and_never_after_takeover(
    started: bool, decided: bool, takeover: bool, gate_open: bool
) -> None:
    memory = Memory(started=started, auto_reply_decided=decided, takeover=takeover)
    actions = decide(fact(CALL_DETECTED), memory, Gate(gate_open, () if gate_open else ("x",)))
    replies = [a for a in actions if isinstance(a, QueueAutoReply)]
    assert len(replies) <= 1
    if replies:
        assert gate_open and not takeover and not decided
    assert any(isinstance(a, StartConversation) for a in actions) == (not started)
