"""The SMS sender against PostgreSQL and a local fake of Twilio's Messages endpoint: each
message reaches the API at most once, also when the sender is SIGKILLed between its claim and
the API's answer; provider errors become DeliveryUpdated failed with the provider's code."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import uuid

import pytest
from edges_support import (
    ACCOUNT,
    BASE_URL,
    BROKEN_TO,
    CALLER,
    INVALID_TO,
    make_sender_settings,
    outbox,
    twilio_post,
)
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from nmc.demo.twilio_standin import LocalTwilio
from producers.conversation.outbound import queue_outbound
from producers.outbox import OutboxWriter
from producers.sender.sender import SmsSender
from producers.sender.settings import SenderSettings


@pytest.fixture
def sender_settings(fake_twilio: LocalTwilio) -> SenderSettings:
    return make_sender_settings(fake_twilio.url, twilio_account_sid=ACCOUNT)


def _queue(engine: Engine, tenant_id: uuid.UUID, to: str = CALLER,
           body: str = "Sorry we missed your call") -> uuid.UUID:
    correlation = uuid.uuid4()
    with Session(engine) as s, s.begin():
        event = queue_outbound(s, OutboxWriter(), tenant_id=tenant_id,
                               correlation_id=correlation,
                               to_phone=to, body=body)
    return uuid.UUID(event.payload["message_id"])


def _status(engine: Engine, message_id: uuid.UUID) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT status FROM outbound_messages WHERE message_id = :m"),
                                {"m": message_id}).scalar_one())


def _drain(engine: Engine, settings: SenderSettings) -> int:
    sent = 0
    with SmsSender(engine, settings) as sender:
        while sender.send_one():
            sent += 1
    return sent


_CRASHING_SENDER = """
import os, signal, sys
from pydantic import SecretStr
from nmc.infra.db import make_engine
from producers.sender.sender import SmsSender
from producers.sender.settings import SenderSettings

db, api, account = sys.argv[1:4]
settings = SenderSettings(twilio_api_base=api, twilio_account_sid=account,
                        twilio_auth_token=SecretStr("t"), public_base_url="https://edge.test")
sender = SmsSender(make_engine(db), settings,
                   after_claim=lambda claimed: os.kill(os.getpid(), signal.SIGKILL))
sender.start()
sender.send_one()
raise SystemExit("not reached: the sender should have been killed after its claim")
"""


@pytest.mark.fault
def test_sigkill_between_claim_and_answer_never_resends(
        engine, database_url, tenant, fake_twilio, sender_settings):
    crashed = _queue(engine, tenant.tenant_id, to="+13105550101")
    proc = subprocess.run(
        [sys.executable, "-c", _CRASHING_SENDER, database_url, fake_twilio.url, ACCOUNT],
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert _status(engine, crashed) == "sending"   # the claim was durable
    assert fake_twilio.calls == []                 # and the API was never called
    later = _queue(engine, tenant.tenant_id, to="+13105550102")

    assert _drain(engine, sender_settings) == 1    # the restart sends only the new message
    assert _status(engine, crashed) == "unknown"
    assert _status(engine, later) == "sent"
    assert fake_twilio.calls_to("+13105550101") == 0
    assert fake_twilio.calls_to("+13105550102") == 1
    assert _drain(engine, sender_settings) == 0    # and again: nothing more, ever
    assert len(fake_twilio.calls) == 1
    sent = [e for e in outbox(engine) if e.event_name.endswith("DeliveryUpdated")]
    assert [e.payload["message_id"] for e in sent] == [str(later)]


def test_injected_failure_after_claim_leaves_unknown_not_queued(
        engine, tenant, fake_twilio, sender_settings):
    message = _queue(engine, tenant.tenant_id)

    def boom(_claimed: object) -> None:
        raise RuntimeError("crash after claim")

    with pytest.raises(RuntimeError), SmsSender(engine, sender_settings,
                                                after_claim=boom) as sender:
        sender.send_one()
    assert _status(engine, message) == "sending"
    _drain(engine, sender_settings)
    assert _status(engine, message) == "unknown"
    assert fake_twilio.calls == []


@pytest.mark.fault
def test_a_live_senders_claim_is_not_reconciled_away(engine, tenant, fake_twilio,
                                                     sender_settings):
    message = _queue(engine, tenant.tenant_id)
    claimed, release = threading.Event(), threading.Event()

    def pause(_claimed: object) -> None:
        claimed.set()
        release.wait(30)

    first = SmsSender(engine, sender_settings, after_claim=pause)
    first.start()
    worker = threading.Thread(target=first.send_one)
    worker.start()
    try:
        assert claimed.wait(30)
        with SmsSender(engine, sender_settings) as second:
            assert second.reconcile() == 0
            assert not second.send_one()
        assert _status(engine, message) == "sending"
    finally:
        release.set()
        worker.join(30)
        first.close()
    assert _status(engine, message) == "sent"
    assert len(fake_twilio.calls) == 1


def test_success_records_sid_and_status_callback_url(engine, tenant, fake_twilio,
                                                    sender_settings):
    message = _queue(engine, tenant.tenant_id, body="Hello there")
    assert _drain(engine, sender_settings) == 1
    [call] = fake_twilio.calls
    assert call["path"] == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert call["From"] == tenant.numbers[0]
    assert call["Body"] == "Hello there"
    assert call["StatusCallback"] == f"{BASE_URL}/twilio/messages/status?mid={message}"
    events = outbox(engine)
    queued, delivery = events[0], events[-1]
    assert queued.payload == {"message_id": str(message), "conversation_id":
                              str(queued.correlation_id), "direction": "out",
                              "status": "queued"}
    assert delivery.payload["status"] == "sent"
    assert delivery.payload["provider_ref"].startswith("SM")
    assert delivery.causation_id == queued.event_id
    assert delivery.correlation_id == queued.correlation_id


def test_provider_error_maps_to_failed_with_its_code(engine, tenant, fake_twilio,
                                                     sender_settings):
    message = _queue(engine, tenant.tenant_id, to=INVALID_TO)
    assert _drain(engine, sender_settings) == 1
    assert _status(engine, message) == "failed"
    [failed] = [e for e in outbox(engine) if e.event_name.endswith("DeliveryUpdated")]
    assert failed.payload["status"] == "failed"
    assert failed.payload["error_code"] == "21211"
    assert _drain(engine, sender_settings) == 0
    assert len(fake_twilio.calls) == 1


def test_server_error_is_unknown_and_never_retried(engine, tenant, fake_twilio,
                                                    sender_settings):
    message = _queue(engine, tenant.tenant_id, to=BROKEN_TO)
    assert _drain(engine, sender_settings) == 1
    assert _status(engine, message) == "unknown"
    assert _drain(engine, sender_settings) == 0
    assert len(fake_twilio.calls) == 1
    assert not [e for e in outbox(engine) if e.event_name.endswith("DeliveryUpdated")]


def test_a_status_callback_resolves_an_unknown_message(client, engine, tenant):
    message = _queue(engine, tenant.tenant_id)
    with engine.begin() as conn:
        conn.execute(text("UPDATE outbound_messages SET status = 'unknown'"))
    r = twilio_post(client, "/twilio/messages/status",
                    {"MessageSid": "SM42", "MessageStatus": "delivered",
                     "From": tenant.numbers[0], "To": CALLER}, query=f"mid={message}")
    assert r.status_code == 200
    assert _status(engine, message) == "delivered"
