"""Conversation reactions on the real stack: PostgreSQL for the decisions, Kafka for the loop."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from support.settings import PlatformSettings as Settings
from support.streams import remove_group

from nmc.contract.envelope import new_event
from nmc.demo.local_platform import commit_at_end
from nmc.infra.consume import end_offsets, read_records
from nmc.infra.kafka_clients import domain_topics
from producers.compliance.campaigns import set_campaign_status
from producers.conversation.reactions.apply import react
from producers.conversation.reactions.consumer import SOURCE_TOPICS, to_trigger
from producers.conversation.reactions.decide import Trigger
from producers.outbox import OutboxWriter
from producers.tables import subscriptions
from producers.tenants.store import add_tenant

NOW = datetime.now(UTC).replace(microsecond=0)  # Kafka refuses record times > 1h ahead
CALLER, NUMBER = "+13105551212", "+13105550000"


def _tenant(engine: Engine, *, subscribed: bool, approved: bool) -> uuid.UUID:
    with Session(engine) as s, s.begin():
        tenant = add_tenant(s, name="Joe's Plumbing", numbers=[NUMBER], time_zone="UTC",
                            auto_reply_template="Sorry we missed you! {business} will text you.")
        if subscribed:
            s.execute(subscriptions.insert().values(
                stripe_subscription_id=f"sub_{uuid.uuid4().hex[:8]}",
                tenant_id=tenant.tenant_id, stripe_customer_id="cus_1", plan="pro",
                status="active", current_period_end=NOW + timedelta(days=30),
                source_created=NOW))
        if approved:
            set_campaign_status(s, OutboxWriter(), tenant.tenant_id, uuid.uuid4(), "approved", NOW)
    return tenant.tenant_id


def _call(tenant: uuid.UUID, thread: uuid.UUID) -> Trigger:
    event = new_event("nmc.telephony.CallDetected", tenant_id=tenant, correlation_id=thread,
                      occurred_at=NOW, payload={
                          "call_id": str(uuid.uuid4()), "from_phone": CALLER,
                          "to_phone": NUMBER, "reason": "no-answer", "provider_ref": "CA1"})
    return to_trigger(event.to_avro(_schema(event.event_name)))


def _schema(name: str) -> Any:
    from nmc.contract.schemas import default_catalog

    return default_catalog().latest(name)


def _react(engine: Engine, fact: Trigger) -> list[object]:
    with Session(engine) as s, s.begin():
        return react(s, fact, OutboxWriter())


def _outbox(engine: Engine, tenant: uuid.UUID) -> list[tuple[str, str, Any]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT event_name, event_id::text, payload FROM outbox_events "
            "WHERE tenant_id = :t AND event_name LIKE 'nmc.conversation.%' ORDER BY id"),
            {"t": tenant})]


def test_missed_call_starts_conversation_and_queues_one_auto_reply(engine: Engine) -> None:
    tenant, thread = _tenant(engine, subscribed=True, approved=True), uuid.uuid4()
    call = _call(tenant, thread)
    _react(engine, call)
    _react(engine, call)  # redelivered
    _react(engine, _call(tenant, thread))  # a second call in the same conversation
    events = _outbox(engine, tenant)
    assert [e[0] for e in events] == ["nmc.conversation.ConversationStarted",
                                      "nmc.conversation.MessageSent"]
    assert events[1][2]["direction"] == "out" and events[1][2]["status"] == "queued"
    with engine.connect() as conn:
        body, status = conn.execute(text(
            "SELECT body, status FROM outbound_messages WHERE tenant_id = :t"),
            {"t": tenant}).one()
    assert body == "Sorry we missed you! Joe's Plumbing will text you."
    assert status == "queued"


@pytest.mark.parametrize(("subscribed", "approved", "reason"), [
    (False, True, "no subscription"),
    (True, False, "no approved 10DLC campaign"),
])
def test_closed_gate_starts_the_conversation_but_records_why_nothing_was_sent(
    engine: Engine, subscribed: bool, approved: bool, reason: str,
) -> None:
    tenant, thread = _tenant(engine, subscribed=subscribed, approved=approved), uuid.uuid4()
    _react(engine, _call(tenant, thread))
    assert [e[0] for e in _outbox(engine, tenant)] == ["nmc.conversation.ConversationStarted"]
    with engine.connect() as conn:
        decision, why = conn.execute(text(
            "SELECT auto_reply, auto_reply_reason FROM conversation_reactions "
            "WHERE tenant_id = :t"), {"t": tenant}).one()
    assert decision == "suppressed" and reason in why


def test_takeover_arriving_first_suppresses_the_auto_reply(engine: Engine) -> None:
    tenant, thread = _tenant(engine, subscribed=True, approved=True), uuid.uuid4()
    takeover = new_event("nmc.conversation.HumanTakeoverRequested", tenant_id=tenant,
                         correlation_id=thread, occurred_at=NOW,
                         payload={"conversation_id": str(thread), "user_id": str(uuid.uuid4())})
    _react(engine, to_trigger(takeover.to_avro(_schema(takeover.event_name))))
    _react(engine, _call(tenant, thread))
    assert [e[0] for e in _outbox(engine, tenant)] == ["nmc.conversation.ConversationStarted"]
    with engine.connect() as conn:
        decision, why = conn.execute(text(
            "SELECT auto_reply, auto_reply_reason FROM conversation_reactions "
            "WHERE tenant_id = :t"), {"t": tenant}).one()
    assert (decision, why) == ("suppressed", "a human took the conversation over")


def test_unknown_tenants_are_ignored(engine: Engine) -> None:
    assert _react(engine, _call(uuid.uuid4(), uuid.uuid4())) == []


@pytest.fixture
def reactor(test_settings: Settings) -> Iterator[Callable[[], None]]:
    from producers.conversation.reactions.app import run_reactor
    from producers.conversation.reactions.settings import ReactorSettings

    stop, assigned = threading.Event(), threading.Event()
    group = f"test-reactions-{uuid.uuid4().hex[:8]}"
    thread = threading.Thread(target=run_reactor,
                              args=(test_settings, ReactorSettings(group=group), stop, assigned),
                              kwargs={"writer": OutboxWriter()}, daemon=True)

    def start() -> None:
        # The group starts exactly at today's end of the topics (committed before it runs),
        # so it sees this test's records and none of the history.
        commit_at_end(test_settings, group, list(SOURCE_TOPICS))
        thread.start()
        assert assigned.wait(60), "reactor got no partitions"

    yield start
    stop.set()
    thread.join(timeout=30)
    remove_group(test_settings, group)


def test_the_loop_on_kafka_call_in_auto_reply_out_and_a_poison_record_dead_lettered(
    test_settings: Settings, engine: Engine, relay_thread: Callable[..., Any],
    reactor: Callable[[], None], wait_until: Callable[..., None],
) -> None:
    from confluent_kafka import Producer

    from nmc.infra.kafka_clients import producer_config

    tenant, thread = _tenant(engine, subscribed=True, approved=True), uuid.uuid4()
    reactor()
    start = end_offsets(test_settings, domain_topics())
    relay_thread(nmc_relay_poll_interval_s=0.2)
    # A poison record on the telephony topic, same key, ahead of the real call.
    poison_producer = Producer(producer_config(test_settings))
    poison_producer.produce("nmc.telephony", key=f"{tenant}:{thread}".encode(),
                            value=b"\x00\x00\x00\x00\x01garbage",
                            headers=[("event_name", b"nmc.telephony.CallDetected"),
                                     ("tenant_id", str(tenant).encode())])
    poison_producer.flush(30)
    call = new_event("nmc.telephony.CallDetected", tenant_id=tenant, correlation_id=thread,
                     payload={"call_id": str(uuid.uuid4()), "from_phone": CALLER,
                              "to_phone": NUMBER, "reason": "busy", "provider_ref": "CA9"})
    with Session(engine) as s, s.begin():
        OutboxWriter().append(s, call)

    records = read_records(
        test_settings, start, timeout_s=120,
        until=lambda rs: {r.headers["event_name"] for r in rs} >= {
            "nmc.telephony.CallDetected", "nmc.conversation.ConversationStarted",
            "nmc.conversation.MessageSent"},
        keep=lambda h: h.get("tenant_id") == str(tenant) and "event_id" in h,
    )
    by_name = {r.headers["event_name"]: r for r in records}
    started = by_name["nmc.conversation.ConversationStarted"]
    sent = by_name["nmc.conversation.MessageSent"]
    assert started.headers["causation_id"] == str(call.event_id)
    assert sent.headers["causation_id"] == started.headers["event_id"]
    assert started.partition == sent.partition == by_name["nmc.telephony.CallDetected"].partition

    def dead_lettered() -> bool:
        with engine.connect() as conn:
            return bool(conn.execute(text(
                "SELECT count(*) FROM stream_dead_letters WHERE app = 'reactions'")).scalar())

    wait_until(dead_lettered, "the poison record in the dead-letter table")
