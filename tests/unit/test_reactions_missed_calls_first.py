"""`missed_calls_first`: a batch's conversations with a missed call are applied first."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from producers.conversation.reactions.decide import (
    CALL_DETECTED,
    INBOUND_SMS,
    TAKEOVER,
    missed_calls_first,
)

SENT = "nmc.conversation.MessageSent"  # not handled: filtered by header


def test_the_conversations_of_missed_calls_go_first_in_record_order() -> None:
    records = [(INBOUND_SMS, b"t:a"), (SENT, b"t:b"), (INBOUND_SMS, b"t:b"),
               (CALL_DETECTED, b"t:b"), (INBOUND_SMS, b"t:c"), (TAKEOVER, b"t:b")]
    assert missed_calls_first(records) == [[2, 3, 5], [0, 1, 4]]


def test_one_part_when_there_is_no_missed_call_or_nothing_else() -> None:
    assert missed_calls_first([]) == []
    assert missed_calls_first([(INBOUND_SMS, b"t:a"), (SENT, b"t:a")]) == [[0, 1]]
    assert missed_calls_first([(CALL_DETECTED, b"t:a"), (INBOUND_SMS, b"t:a")]) == [[0, 1]]
    assert missed_calls_first([(None, None)]) == [[0]]


records = st.lists(st.tuples(st.sampled_from([CALL_DETECTED, INBOUND_SMS, TAKEOVER, SENT, None]),
                             st.sampled_from([b"t:a", b"t:b", b"t:c", None])), max_size=30)


@given(records)
def test_every_record_once_and_each_conversation_in_one_part_in_order(
        batch: list[tuple[str | None, bytes | None]]) -> None:
    parts = missed_calls_first(batch)
    assert sorted(i for part in parts for i in part) == list(range(len(batch)))
    for part in parts:
        assert part == sorted(part)
    where = {i: n for n, part in enumerate(parts) for i in part}
    handled = {CALL_DETECTED, INBOUND_SMS, TAKEOVER}
    for key in {k for _, k in batch}:
        facts = {where[i] for i, (name, k) in enumerate(batch) if k == key and name in handled}
        assert len(facts) <= 1  # a conversation's facts are never split between parts
