"""The reactor's fast paths read and build exactly what the general ones do: `to_trigger`
against `to_fact` on decoded records, `known_event` against `new_event` (pure)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nmc.contract.envelope import InvalidEvent, known_event, new_event
from nmc.contract.facts import PoisonEvent, to_fact
from producers.conversation.reactions.consumer import to_trigger

WHEN = datetime(2026, 3, 1, 12, 30, 5, 123_000, tzinfo=UTC)


def _record(**changes: Any) -> dict[str, Any]:
    """A record as fastavro decodes it: uuid and timestamp-millis logical types typed."""
    return {"event_id": uuid.uuid4(), "event_name": "nmc.telephony.CallDetected",
            "schema_version": "1.0.0", "tenant_id": uuid.uuid4(),
            "correlation_id": uuid.uuid4(), "causation_id": None, "occurred_at": WHEN,
            "payload": {"call_id": str(uuid.uuid4()), "from_phone": "+13105551212",
                        "to_phone": "+13105550000", "reason": "no-answer",
                        "provider_ref": "CA1"}, **changes}


def test_a_trigger_carries_what_to_fact_reads_typed() -> None:
    record = _record()
    trigger, fact = to_trigger(record), to_fact(record)
    assert (str(trigger.event_id), str(trigger.tenant_id), str(trigger.correlation_id)) == (
        fact.event_id, fact.tenant_id, fact.correlation_id)
    assert trigger.name == fact.event_name and trigger.payload == fact.payload
    assert trigger.occurred_at == WHEN and trigger.occurred_at.tzinfo is not None
    # ids given as text (another decoder) read the same
    assert to_trigger(_record(event_id=str(record["event_id"]))).event_id == record["event_id"]


@pytest.mark.parametrize("record", [
    "not a record", _record(event_name="other.Thing"), _record(event_id="not-a-uuid"),
    _record(occurred_at=datetime(2026, 3, 1)),  # naive
    {k: v for k, v in _record().items() if k != "tenant_id"},
])
def test_what_to_fact_refuses_is_poison(record: Any) -> None:
    with pytest.raises(PoisonEvent):
        to_trigger(record)


def test_known_event_is_new_event_without_the_text_round_trip() -> None:
    ids = {"event_id": uuid.uuid4(), "tenant_id": uuid.uuid4(),
           "correlation_id": uuid.uuid4(), "causation_id": uuid.uuid4()}
    payload = {"conversation_id": str(ids["correlation_id"]), "caller_phone": "+13105551212"}
    when = WHEN + timedelta(microseconds=456)  # truncated to the millisecond by both
    fast = known_event("nmc.conversation.ConversationStarted", occurred_at=when,
                       payload=payload, **ids)
    slow = new_event("nmc.conversation.ConversationStarted", occurred_at=when,
                     payload=payload, **ids)
    assert fast == slow and fast.to_json() == slow.to_json()


def test_known_event_still_validates_the_payload_and_the_types() -> None:
    with pytest.raises(InvalidEvent, match="caller_phone"):
        known_event("nmc.conversation.ConversationStarted", event_id=uuid.uuid4(),
                    tenant_id=uuid.uuid4(), correlation_id=uuid.uuid4(), occurred_at=WHEN,
                    payload={"conversation_id": str(uuid.uuid4())})
    with pytest.raises(InvalidEvent, match="event_id"):
        known_event("nmc.conversation.ConversationStarted",
                    event_id="x",  # type: ignore[arg-type]
                    tenant_id=uuid.uuid4(), correlation_id=uuid.uuid4(), occurred_at=WHEN,
                    payload={"conversation_id": str(uuid.uuid4()), "caller_phone": "+13105551212"})
