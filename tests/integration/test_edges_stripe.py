"""Stripe webhook against PostgreSQL: signature (own HMAC helper, tolerance), idempotency on
the event id, malformed input, unknown tenant / price, out-of-order events, gate data."""

from __future__ import annotations

import json
import time

from edges_support import (
    STRIPE_SECRET,
    count,
    new_tenant,
    outbox,
    stripe_post,
    stripe_signature,
    subscription_event,
)
from sqlalchemy import text
from sqlalchemy.orm import Session

from producers.conversation.messaging_gate import messaging_gate


def _nothing_written(engine) -> None:
    assert outbox(engine) == []
    assert count(engine, "stripe_events") == 0
    assert count(engine, "subscriptions") == 0


def test_subscription_update_writes_event_and_gate_row(client, engine):
    tenant = new_tenant(engine, customer="cus_A")
    r = stripe_post(client, subscription_event("cus_A", event_id="evt_1"))
    assert r.status_code == 200, r.text
    [row] = outbox(engine)
    assert row.event_name == "nmc.billing.SubscriptionUpdated"
    assert row.tenant_id == tenant.tenant_id
    assert row.payload == {"stripe_customer_id": "cus_A", "stripe_subscription_id": "sub_123",
                           "plan": "pro", "status": "active",
                           "current_period_end": "2026-09-21T14:13:20Z"}
    with engine.connect() as conn:
        sub = conn.execute(text("SELECT plan, status FROM subscriptions")).one()
    assert (sub.plan, sub.status) == ("pro", "active")


def test_period_end_on_items_newer_api_version(client, engine):
    new_tenant(engine, customer="cus_A")
    r = stripe_post(client, subscription_event("cus_A", period_on_items=True, price="price_basic"))
    assert r.status_code == 200, r.text
    assert outbox(engine)[0].payload["plan"] == "basic"


def test_replay_returns_success_and_writes_nothing_new(client, engine):
    new_tenant(engine, customer="cus_A")
    event = subscription_event("cus_A", event_id="evt_same")
    assert stripe_post(client, event).status_code == 200
    before = outbox(engine)
    r = stripe_post(client, event)  # Stripe retries with a fresh signature timestamp
    assert r.status_code == 200
    assert r.json()["outcome"] == "replayed"
    assert outbox(engine) == before
    assert count(engine, "stripe_events") == 1


def test_unsigned_wrong_and_expired_signatures_are_403(client, engine):
    new_tenant(engine, customer="cus_A")
    event = subscription_event("cus_A")
    payload = json.dumps(event)
    r = stripe_post(client, event, signature=None)
    assert r.status_code == 403
    assert r.json()["errors"][0]["field"] == "Stripe-Signature"
    wrong = stripe_signature(payload, secret="whsec_not_the_secret_123")
    assert stripe_post(client, event, signature=wrong).status_code == 403
    # Signed over another body:
    other = stripe_signature(json.dumps(subscription_event("cus_A", status="canceled")))
    assert stripe_post(client, event, signature=other).status_code == 403
    # Correctly signed, but outside the 300 s tolerance (a replayed capture):
    old = stripe_post(client, event, timestamp=int(time.time()) - 301)
    assert old.status_code == 403
    assert "tolerance" in old.json()["errors"][0]["reason"].lower()
    assert stripe_post(client, event, signature="garbage").status_code == 403
    _nothing_written(engine)


def test_within_tolerance_is_accepted(client, engine):
    new_tenant(engine, customer="cus_A")
    r = stripe_post(client, subscription_event("cus_A"), timestamp=int(time.time()) - 200)
    assert r.status_code == 200


def test_malformed_events_are_400_naming_the_field(client, engine):
    new_tenant(engine, customer="cus_A")
    assert stripe_post(client, "{not json").status_code == 400
    event = subscription_event("cus_A")
    del event["data"]["object"]["customer"]
    r = stripe_post(client, event)
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == "data.object.customer"
    event = subscription_event("cus_A")
    event["data"]["object"]["items"]["data"] = []
    assert stripe_post(client, event).status_code == 400
    _nothing_written(engine)


def test_unknown_tenant_and_unmapped_price_are_refused(client, engine):
    new_tenant(engine, customer="cus_A")
    r = stripe_post(client, subscription_event("cus_NOBODY"))
    assert r.status_code == 404
    assert "cus_NOBODY" in r.json()["errors"][0]["reason"]
    r = stripe_post(client, subscription_event("cus_A", price="price_unknown"))
    assert r.status_code == 422
    assert "price_unknown" in r.json()["errors"][0]["reason"]
    _nothing_written(engine)


def test_other_event_types_are_acknowledged_and_ignored(client, engine):
    payload = json.dumps({"id": "evt_x", "type": "invoice.paid", "created": 1,
                          "data": {"object": {}}})
    r = client.post("/stripe/webhook", content=payload,
                    headers={"Stripe-Signature": stripe_signature(payload, STRIPE_SECRET)})
    assert r.status_code == 200
    assert "ignored" in r.json()["outcome"]
    _nothing_written(engine)


def test_out_of_order_events_keep_the_newest_state(client, engine):
    tenant = new_tenant(engine, customer="cus_A")
    now = int(time.time())
    newer = subscription_event("cus_A", status="canceled", created=now,
                               kind="customer.subscription.deleted")
    older = subscription_event("cus_A", status="active", created=now - 60)
    assert stripe_post(client, newer).status_code == 200
    r = stripe_post(client, older)
    assert r.status_code == 200
    assert "older" in r.json()["outcome"]
    assert [e.payload["status"] for e in outbox(engine)] == ["canceled"]
    with Session(engine) as s:
        gate = messaging_gate(s, tenant.tenant_id)
    assert not gate.allowed
    assert "subscription is canceled" in gate.reasons


def test_unpaid_maps_to_past_due(client, engine):
    new_tenant(engine, customer="cus_A")
    assert stripe_post(client, subscription_event("cus_A", status="unpaid")).status_code == 200
    assert outbox(engine)[0].payload["status"] == "past_due"
