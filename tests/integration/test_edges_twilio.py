"""Twilio webhooks against PostgreSQL: signature, idempotency, malformed input, unknown
tenant, status monotonicity, TwiML answers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from edges_support import (
    BASE_URL,
    CALLER,
    OTHER_NUMBER,
    TENANT_NUMBER,
    TWILIO_TOKEN,
    count,
    outbox,
    twilio_post,
    twilio_signature,
)
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from producers.conversation.outbound import queue_outbound
from producers.outbox import OutboxWriter

VOICE = "/twilio/voice/status"
SMS = "/twilio/sms"
STATUS = "/twilio/messages/status"


def _call(sid: str = "CA0001", status: str = "no-answer", to: str = TENANT_NUMBER,
          caller: str = CALLER) -> dict[str, str]:
    return {"CallSid": sid, "CallStatus": status, "From": caller, "To": to,
            "AccountSid": "AC" + "0" * 32, "Direction": "inbound"}


def _sms(sid: str = "SM0001", body: str = "My sink is clogged",
         to: str = TENANT_NUMBER) -> dict[str, str]:
    return {"MessageSid": sid, "From": CALLER, "To": to, "Body": body, "NumMedia": "0"}


def _nothing_written(engine: Engine) -> None:
    assert outbox(engine) == []
    for table in ("calls", "inbound_messages", "threads"):
        assert count(engine, table) == 0


# --- voice ------------------------------------------------------------------------------------


def test_missed_call_writes_call_detected_and_answers_twiml(client, engine, tenant):
    r = twilio_post(client, VOICE, _call())
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/xml")
    assert "<Response" in r.text
    [row] = outbox(engine)
    assert row.event_name == "nmc.telephony.CallDetected"
    assert row.tenant_id == tenant.tenant_id
    assert row.causation_id is None
    assert row.payload["reason"] == "no-answer"
    assert row.payload["provider_ref"] == "CA0001"
    assert row.payload["from_phone"] == CALLER
    assert count(engine, "calls") == 1


def test_busy_and_failed_are_missed_but_completed_is_ignored(client, engine, tenant):
    assert twilio_post(client, VOICE, _call("CA1", "busy")).status_code == 200
    assert twilio_post(client, VOICE, _call("CA2", "failed")).status_code == 200
    for status in ("completed", "ringing", "in-progress"):
        r = twilio_post(client, VOICE, _call(f"CA-{status}", status))
        assert r.status_code == 200
        assert "ignored" in r.headers["x-nmc-outcome"]
    assert [r.payload["reason"] for r in outbox(engine)] == ["busy", "failed"]


def test_voice_replay_returns_success_and_writes_nothing_new(client, engine, tenant):
    assert twilio_post(client, VOICE, _call()).status_code == 200
    before = outbox(engine)
    r = twilio_post(client, VOICE, _call())
    assert r.status_code == 200
    assert r.headers["x-nmc-outcome"] == "replayed"
    assert outbox(engine) == before
    assert count(engine, "calls") == 1


def test_voice_unsigned_is_403_and_writes_nothing(client, engine, tenant):
    r = twilio_post(client, VOICE, _call(), signature=None)
    assert r.status_code == 403
    assert r.json()["errors"][0]["field"] == "X-Twilio-Signature"
    assert "missing" in r.json()["errors"][0]["reason"]
    _nothing_written(engine)


def test_voice_wrong_signature_is_403(client, engine, tenant):
    assert twilio_post(client, VOICE, _call(), token="not-the-token").status_code == 403
    assert twilio_post(client, VOICE, _call(), signature="AAAA").status_code == 403
    # A valid signature over other parameters does not cover these ones: sign, then tamper.
    signed = _call()
    signature = twilio_signature(VOICE, signed)
    assert RequestValidator(TWILIO_TOKEN).validate(BASE_URL + VOICE, signed, signature)
    tampered = dict(signed, From="+13105559999")
    assert twilio_post(client, VOICE, tampered, signature=signature).status_code == 403
    _nothing_written(engine)


def test_voice_malformed_is_400_naming_the_field(client, engine, tenant):
    params = _call()
    del params["CallSid"]
    r = twilio_post(client, VOICE, params)
    assert r.status_code == 400
    assert {"field": "CallSid", "reason": "required parameter is missing"} in r.json()["errors"]
    r = twilio_post(client, VOICE, _call(caller="5551212"))
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == "From"
    r = client.post(VOICE, content=b'{"CallSid": 1}',
                    headers={"Content-Type": "application/json", "X-Twilio-Signature": "x"})
    assert r.status_code == 400
    _nothing_written(engine)


def test_voice_unknown_tenant_is_404(client, engine, tenant):
    r = twilio_post(client, VOICE, _call(to=OTHER_NUMBER))
    assert r.status_code == 404
    assert "unknown tenant" in r.json()["errors"][0]["reason"]
    _nothing_written(engine)


# --- inbound SMS ------------------------------------------------------------------------------


def test_inbound_sms_joins_the_missed_call_thread(client, engine, tenant):
    assert twilio_post(client, VOICE, _call()).status_code == 200
    r = twilio_post(client, SMS, _sms())
    assert r.status_code == 200
    assert r.text.endswith("<Response />")
    call, sms = outbox(engine)
    assert sms.event_name == "nmc.telephony.InboundSmsReceived"
    assert sms.correlation_id == call.correlation_id
    assert sms.record_key == call.record_key
    assert sms.payload["body"] == "My sink is clogged"


def test_inbound_sms_replay_unsigned_wrong_malformed_unknown(client, engine, tenant):
    assert twilio_post(client, SMS, _sms(), signature=None).status_code == 403
    assert twilio_post(client, SMS, _sms(), token="wrong").status_code == 403
    bad = _sms()
    del bad["MessageSid"]
    assert twilio_post(client, SMS, bad).status_code == 400
    assert twilio_post(client, SMS, _sms(to=OTHER_NUMBER)).status_code == 404
    _nothing_written(engine)
    assert twilio_post(client, SMS, _sms()).status_code == 200
    assert twilio_post(client, SMS, _sms()).status_code == 200
    assert len(outbox(engine)) == 1
    assert count(engine, "inbound_messages") == 1


def test_inbound_sms_with_a_pasted_key_is_redacted_not_refused(client, engine, tenant):
    r = twilio_post(client, SMS, _sms(body="my key sk_live_abcdefgh12345678 help"))
    assert r.status_code == 200
    assert outbox(engine)[0].payload["body"] == "my key [redacted] help"


# --- message status ---------------------------------------------------------------------------


def _queued(engine: Engine, tenant_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    correlation = uuid.uuid4()
    with Session(engine) as session, session.begin():
        session.execute(text(
            "INSERT INTO threads (correlation_id, tenant_id, caller_phone, opened_at, "
            "last_activity_at) VALUES (:c, :t, :p, now(), now())"),
            {"c": correlation, "t": tenant_id, "p": CALLER})
        event = queue_outbound(session, OutboxWriter(), tenant_id=tenant_id,
                               correlation_id=correlation,
                               to_phone=CALLER, body="Sorry we missed you")
    return uuid.UUID(event.payload["message_id"]), event.event_id


def _status(sid: str, status: str, **extra: str) -> dict[str, str]:
    return {"MessageSid": sid, "MessageStatus": status, "From": TENANT_NUMBER, "To": CALLER,
            **extra}


def test_status_callbacks_advance_and_never_go_backwards(client, engine, tenant):
    message_id, queued_event = _queued(engine, tenant.tenant_id)
    q = f"mid={message_id}"
    assert twilio_post(client, STATUS, _status("SM9", "queued"), query=q).status_code == 200
    assert twilio_post(client, STATUS, _status("SM9", "sent"), query=q).status_code == 200
    assert twilio_post(client, STATUS, _status("SM9", "delivered"), query=q).status_code == 200
    late = twilio_post(client, STATUS, _status("SM9", "sent"), query=q)  # out of order
    assert late.status_code == 200
    assert late.headers["x-nmc-outcome"] == "ignored-not-forward"
    replay = twilio_post(client, STATUS, _status("SM9", "delivered"), query=q)
    assert replay.status_code == 200
    events = [r for r in outbox(engine) if r.event_name.endswith("DeliveryUpdated")]
    assert [e.payload["status"] for e in events] == ["sent", "delivered"]
    assert all(e.causation_id == queued_event for e in events)
    assert all(e.payload["provider_ref"] == "SM9" for e in events)
    # Later callbacks find the message by its sid alone.
    r = twilio_post(client, STATUS, _status("SM9", "failed", ErrorCode="30003"))
    assert r.status_code == 200
    assert len([r for r in outbox(engine) if r.event_name.endswith("DeliveryUpdated")]) == 2


def test_failed_status_carries_the_error_code(client, engine, tenant):
    message_id, _ = _queued(engine, tenant.tenant_id)
    r = twilio_post(client, STATUS, _status("SM7", "undelivered", ErrorCode="30005"),
                    query=f"mid={message_id}")
    assert r.status_code == 200
    [event] = [r for r in outbox(engine) if r.event_name.endswith("DeliveryUpdated")]
    assert event.payload == {"message_id": str(message_id), "status": "failed",
                             "provider_ref": "SM7", "error_code": "30005"}


def test_status_unsigned_unknown_message_unknown_tenant(client, engine, tenant):
    message_id, _ = _queued(engine, tenant.tenant_id)
    q = f"mid={message_id}"
    before = outbox(engine)
    assert twilio_post(client, STATUS, _status("SM1", "sent"), query=q,
                       signature=None).status_code == 403
    # The query string is signed too: a valid signature for another mid does not verify.
    other_mid = f"mid={uuid.uuid4()}"
    signature = twilio_signature(STATUS, _status("SM1", "sent"), query=other_mid)
    assert RequestValidator(TWILIO_TOKEN).validate(f"{BASE_URL}{STATUS}?{other_mid}",
                                                   _status("SM1", "sent"), signature)
    assert twilio_post(client, STATUS, _status("SM1", "sent"), query=q,
                       signature=signature).status_code == 403
    assert twilio_post(client, STATUS, _status("SMX", "sent")).status_code == 404
    other = _status("SM1", "sent")
    other["From"] = OTHER_NUMBER
    assert twilio_post(client, STATUS, other, query=q).status_code == 404
    assert twilio_post(client, STATUS, _status("SM1", "sent"), query="mid=nope").status_code \
        == 400
    assert outbox(engine) == before


def test_idle_thread_is_closed_and_a_new_one_opened(engine, tenant):
    from producers.conversation.threads import touch_thread

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    with Session(engine) as s, s.begin():
        first = touch_thread(s, tenant.tenant_id, CALLER, t0, idle_s=3600)
    with Session(engine) as s, s.begin():
        again = touch_thread(s, tenant.tenant_id, CALLER, t0.replace(minute=30), idle_s=3600)
    with Session(engine) as s, s.begin():
        later = touch_thread(s, tenant.tenant_id, CALLER, t0.replace(hour=5), idle_s=3600)
    assert first.opened and not again.opened and later.opened
    assert again.correlation_id == first.correlation_id != later.correlation_id


def test_concurrent_retries_and_first_contacts_converge(engine, tenant):
    """Twilio retries racing each other write one event; a call and a text racing as the
    caller's first contacts end up in one thread."""
    import threading

    from producers.edges import twilio_input
    from producers.errors import Replayed
    from producers.outbox import OutboxWriter
    from producers.telephony.calls import record_call_status
    from producers.telephony.messages import receive_sms

    barrier = threading.Barrier(6)
    outcomes: list[str] = []
    writer = OutboxWriter()

    def deliver(i: int) -> None:
        barrier.wait()
        now = datetime.now(UTC)
        try:
            with Session(engine) as s, s.begin():
                if i % 2:
                    result = record_call_status(
                        s, writer, twilio_input.call_status(_call("CA-race")), now, 3600)
                else:
                    result = receive_sms(
                        s, writer, twilio_input.inbound_sms(_sms("SM-race")), now, 3600)
            outcomes.append(result.outcome)
        except Replayed:
            outcomes.append("replayed")

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes).count("replayed") == 4
    events = outbox(engine)
    assert sorted(e.event_name for e in events) == [
        "nmc.telephony.CallDetected", "nmc.telephony.InboundSmsReceived"]
    assert len({e.correlation_id for e in events}) == 1
    assert count(engine, "threads") == 1
