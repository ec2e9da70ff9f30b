"""One conversation thread end to end: webhooks, the outbound text, its delivery updates, the
hold and the booking share one correlation_id, so the relay puts them on one key and one
partition number of the co-partitioned topics, each topic in write order."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from edges_support import (
    ACCOUNT,
    CALLER,
    bearer,
    make_sender_settings,
    outbox,
    twilio_post,
)
from sqlalchemy import text
from sqlalchemy.orm import Session

from nmc.contract.keys import java_partition
from nmc.infra.consume import end_offsets, read_records
from nmc.infra.kafka_clients import domain_topics
from producers.conversation.outbound import queue_outbound
from producers.conversation.threads import open_thread_for
from producers.outbox import OutboxWriter
from producers.sender.sender import SmsSender


def test_a_thread_lands_on_one_key_in_order(
    client, engine, tenant, fake_twilio, test_settings, relay_thread: Callable[..., Any],
    wait_until: Callable[..., None],
) -> None:
    start = end_offsets(test_settings, domain_topics())
    number = tenant.numbers[0]
    assert twilio_post(client, "/twilio/voice/status", {
        "CallSid": "CA1", "CallStatus": "no-answer", "From": CALLER, "To": number}
    ).status_code == 200
    [call] = outbox(engine)
    with Session(engine) as s, s.begin():
        correlation = open_thread_for(s, tenant.tenant_id, CALLER)
        assert correlation == call.correlation_id
        queued = queue_outbound(s, OutboxWriter(), tenant_id=tenant.tenant_id,
                                correlation_id=correlation,
                                to_phone=CALLER, body="Sorry we missed you!",
                                causation_id=call.event_id)
    settings = make_sender_settings(fake_twilio.url, twilio_account_sid=ACCOUNT)
    with SmsSender(engine, settings) as sender:
        assert sender.send_one()
    mid = queued.payload["message_id"]
    assert twilio_post(client, "/twilio/messages/status", {
        "MessageSid": "SMx", "MessageStatus": "delivered", "From": number, "To": CALLER},
        query=f"mid={mid}").status_code == 200
    assert twilio_post(client, "/twilio/sms", {
        "MessageSid": "SM2", "From": CALLER, "To": number, "Body": "Tomorrow 5pm?"}
    ).status_code == 200
    item = uuid.uuid4()
    assert client.put(f"/v1/catalog/items/{item}", headers=bearer(tenant.tenant_id), json={
        "name": "Drain", "price_cents": 100, "duration_minutes": 60}).status_code == 200
    begin = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    hold = client.post("/v1/holds", headers=bearer(tenant.tenant_id), json={
        "resource_id": str(uuid.uuid4()), "start": begin.isoformat(),
        "end": (begin + timedelta(hours=1)).isoformat(), "customer_phone": CALLER})
    assert hold.status_code == 201, hold.text
    booked = client.post(f"/v1/holds/{hold.json()['hold_id']}/book",
                         headers=bearer(tenant.tenant_id),
                         json={"service_item_id": str(item)})
    assert booked.status_code == 200, booked.text

    thread = [r for r in outbox(engine) if r.correlation_id == correlation]
    names = [r.event_name.split(".")[-1] for r in thread]
    assert names == ["CallDetected", "MessageSent", "DeliveryUpdated", "DeliveryUpdated",
                     "InboundSmsReceived", "AppointmentHeld", "AppointmentBooked"]
    sms = thread[4]
    assert sms.causation_id == queued.event_id  # the reply answers our text

    ids = {str(r.event_id) for r in thread}
    relay_thread()

    def published() -> bool:
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT count(*) FROM outbox_events WHERE state <> 'published'")).scalar() == 0

    wait_until(published, "the relay to publish the thread")
    records = read_records(test_settings, start,
                           until=lambda rs: {r.headers["event_id"] for r in rs} >= ids,
                           keep=lambda h: h.get("event_id") in ids)
    key = f"{tenant.tenant_id}:{correlation}"
    assert {r.key for r in records} == {key}
    assert {r.partition for r in records} == {
        java_partition(key, test_settings.nmc_topic_partitions)}
    order = [str(r.event_id) for r in thread]
    for topic in {r.topic for r in records}:
        on_topic = sorted((r for r in records if r.topic == topic), key=lambda r: r.offset)
        got = [r.headers["event_id"] for r in on_topic]
        assert got == [e for e in order if e in set(got)]
