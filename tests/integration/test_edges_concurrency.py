"""Webhooks and reactions of the same conversations, interleaved from many threads, against
the real PostgreSQL: no 5xx, no deadlock surfaced, every expected event in the outbox.

Issue #14: the inbound-SMS webhook locked the thread row and then waited for the outbox key
lock, while the reactor held that key lock (ConversationStarted) and waited for the thread
row (record_outbound of the auto-reply): `DeadlockDetected`, a 500 to Twilio. Both now take
the key lock first (a delivery callback, like the sender, locks its outbound row and then
the key; nobody holding a key lock waits for an existing outbound row). The edge app here
runs with ONE transaction attempt and the reactions without any retry, so a deadlock would
surface (503 / exception) instead of being absorbed.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from edges_support import (
    BASE_URL,
    TENANT_NUMBER,
    bearer,
    make_settings,
    stripe_post,
    subscription_event,
    twilio_post,
)
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from nmc.contract.ids import stable_id
from producers.conversation.reactions.apply import react
from producers.conversation.reactions.decide import Trigger, auto_reply_message_id
from producers.edges.app import create_edge_app
from producers.outbox import OutboxWriter
from producers.tenants import Tenant

CALLERS = 24
SMS_PER_CALLER = 3
WORKERS = 16


def _caller(i: int) -> str:
    return f"+1310555{3000 + i:04d}"


def _fact(engine: Engine, event_id: uuid.UUID) -> Trigger:
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT event_id, event_name, tenant_id, correlation_id, occurred_at, payload "
            "FROM outbox_events WHERE event_id = :e"), {"e": event_id}).one()
    return Trigger(row.event_id, row.event_name, row.tenant_id, row.correlation_id,
                row.occurred_at, row.payload)


def _thread_of(engine: Engine, caller: str) -> uuid.UUID:
    with engine.connect() as conn:
        return uuid.UUID(str(conn.execute(text(
            "SELECT correlation_id FROM threads WHERE caller_phone = :c AND closed_at IS NULL"),
            {"c": caller}).scalar_one()))


def _react_once(engine: Engine, fact: Trigger) -> None:
    """One reactor transaction, deliberately without the reactor's retries."""
    with Session(engine) as s, s.begin():
        react(s, fact, OutboxWriter())


def test_interleaved_webhooks_and_reactions_never_deadlock(engine: Engine,
                                                            tenant: Tenant) -> None:
    app = create_edge_app(make_settings(tx_retry_attempts=1), engine)
    with TestClient(app, base_url=BASE_URL) as setup:
        assert stripe_post(setup, subscription_event(tenant.stripe_customer_id or "")
                           ).status_code == 200
        assert setup.put(f"/v1/compliance/campaigns/{uuid.uuid4()}", json={
            "status": "approved"}, headers=bearer(tenant.tenant_id)).status_code == 200

    failures: list[str] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def post(path: str, params: dict[str, str], query: str = "") -> None:
        # A client per call: TestClient without `with` runs each request on its own portal,
        # so the threads really hit the app (and PostgreSQL) concurrently.
        response = twilio_post(TestClient(app, base_url=BASE_URL), path, params, query=query)
        with lock:
            statuses[response.status_code] += 1
            if response.status_code != 200:
                failures.append(f"{path} {params}: {response.status_code} {response.text}")

    def react_to(event_id: uuid.UUID) -> None:
        try:
            _react_once(engine, _fact(engine, event_id))
        except Exception as exc:
            with lock:
                failures.append(f"reaction to {event_id}: {type(exc).__name__}: {exc}")

    def missed_call(i: int) -> None:
        post("/twilio/voice/status", {"CallSid": f"CA-conc-{i}", "CallStatus": "no-answer",
                                      "From": _caller(i), "To": TENANT_NUMBER})

    pairs = [threading.Barrier(2) for _ in range(CALLERS)]

    def reactions(i: int) -> None:
        event_id = stable_id("event", "CallDetected", f"CA-conc-{i}")
        pairs[i].wait(30)  # start together with this caller's texts
        react_to(event_id)
        # The auto-reply's delivery callback (outbound row, then key lock) racing the
        # redelivered fact (key lock, then rows) and the texts.
        message_id = auto_reply_message_id(tenant.tenant_id, _thread_of(engine, _caller(i)))
        post("/twilio/messages/status", {"MessageSid": f"SM-auto-{i}",
                                         "MessageStatus": "delivered",
                                         "From": TENANT_NUMBER, "To": _caller(i)},
             query=f"mid={message_id}")
        react_to(event_id)  # a redelivered fact racing the texts

    def texts(i: int) -> None:
        pairs[i].wait(30)
        for n in range(SMS_PER_CALLER):
            sid = f"SM-conc-{i}-{n}"
            post("/twilio/sms", {"MessageSid": sid, "From": _caller(i), "To": TENANT_NUMBER,
                                 "Body": f"text {n}"})
            react_to(stable_id("event", "InboundSmsReceived", sid))

    order = list(range(CALLERS))
    random.Random(14).shuffle(order)
    with ThreadPoolExecutor(WORKERS) as pool:
        # First the missed calls, all at once; then per caller its CallDetected reaction
        # (ConversationStarted + auto-reply, which writes the thread row) against its
        # inbound texts (which lock the thread row), released together in pairs.
        list(pool.map(missed_call, order))
        list(pool.map(lambda job: job[0](job[1]),
                      [(fn, i) for i in order for fn in (reactions, texts)]))

    assert failures == [], "\n".join(failures[:10])
    assert set(statuses) == {200}
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT event_name, correlation_id, payload FROM outbox_events "
            "WHERE tenant_id = :t AND event_name NOT IN "
            "('nmc.billing.SubscriptionUpdated', 'nmc.compliance.ComplianceStatusChanged')"),
            {"t": tenant.tenant_id}).all()
        threads_open = conn.execute(text(
            "SELECT count(*) FROM threads WHERE closed_at IS NULL")).scalar_one()
    assert threads_open == CALLERS
    by_conversation: dict[uuid.UUID, Counter[str]] = {}
    for row in rows:
        name = row.event_name.rsplit(".", 1)[1]
        if name == "MessageSent":
            name += "/" + row.payload["direction"]
        by_conversation.setdefault(row.correlation_id, Counter())[name] += 1
    expected = Counter({"CallDetected": 1, "InboundSmsReceived": SMS_PER_CALLER,
                        "ConversationStarted": 1, "MessageSent/out": 1,
                        "MessageSent/in": SMS_PER_CALLER, "DeliveryUpdated": 1})
    assert len(by_conversation) == CALLERS
    assert all(c == expected for c in by_conversation.values()), by_conversation
