"""Domain commands against PostgreSQL: authentication and tenant scoping, catalog, holds and
appointments (overlap refused by the exclusion constraint, also under concurrency), the
expiry job, compliance gate data and takeover."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from edges_support import (
    CALLER,
    OTHER_NUMBER,
    bearer,
    count,
    new_tenant,
    outbox,
    twilio_post,
)
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from producers.conversation.messaging_gate import messaging_gate
from producers.errors import Refused
from producers.outbox import OutboxWriter
from producers.scheduling import holds

T0 = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)


def _slot(hours: float = 0, length: float = 2) -> tuple[str, str]:
    start = T0 + timedelta(hours=hours)
    return start.isoformat(), (start + timedelta(hours=length)).isoformat()


def _hold(client, tenant_id, resource, hours=0.0, length=2.0, **extra):
    start, end = _slot(hours, length)
    return client.post("/v1/holds", headers=bearer(tenant_id),
                       json={"resource_id": str(resource), "start": start, "end": end,
                             "ttl_seconds": 600, **extra})


def _item(client, tenant_id, item_id=None, **fields):
    item_id = item_id or uuid.uuid4()
    body = {"name": "Drain cleaning", "price_cents": 12900, "duration_minutes": 120,
            "active": True, **fields}
    return item_id, client.put(f"/v1/catalog/items/{item_id}", headers=bearer(tenant_id),
                               json=body)


# --- authentication ---------------------------------------------------------------------------


def test_commands_require_a_valid_token_of_a_known_tenant(client, engine, tenant):
    url = f"/v1/catalog/items/{uuid.uuid4()}"
    body = {"name": "x", "price_cents": 1, "duration_minutes": 30}
    assert client.put(url, json=body).status_code == 401
    assert client.put(url, json=body, headers={"Authorization": "Basic abc"}).status_code == 401
    wrong = bearer(tenant.tenant_id, secret="another-secret-0123456789abcdefgh")
    assert client.put(url, json=body, headers=wrong).status_code == 401
    expired = bearer(tenant.tenant_id, exp_in=-10)
    assert client.put(url, json=body, headers=expired).status_code == 401
    stranger = client.put(url, json=body, headers=bearer(uuid.uuid4()))
    assert stranger.status_code == 403
    assert stranger.json()["errors"][0]["reason"] == "unknown tenant"
    assert outbox(engine) == []


def test_malformed_command_body_is_400_naming_the_field(client, engine, tenant):
    _, r = _item(client, tenant.tenant_id, price_cents=-1)
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == "price_cents"
    r = _hold(client, tenant.tenant_id, uuid.uuid4(), length=-1)
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == "end"
    assert outbox(engine) == []


# --- catalog ----------------------------------------------------------------------------------


def test_catalog_create_update_and_noop(client, engine, tenant):
    item_id, r = _item(client, tenant.tenant_id)
    assert r.status_code == 200 and r.json()["changed"]
    _, r = _item(client, tenant.tenant_id, item_id)  # identical: nothing to say
    assert not r.json()["changed"]
    _, r = _item(client, tenant.tenant_id, item_id, active=False)
    assert r.json()["changed"]
    events = outbox(engine)
    assert [e.event_name for e in events] == ["nmc.catalog.CatalogUpdated"] * 2
    assert events[0].payload == {"updated_item_ids": [str(item_id)], "full_refresh": False}
    assert events[0].correlation_id == events[1].correlation_id


def test_a_tenant_cannot_touch_another_tenants_rows(client, engine, tenant):
    other = new_tenant(engine, number=OTHER_NUMBER, name="Other Co")
    resource = uuid.uuid4()
    hold = _hold(client, tenant.tenant_id, resource).json()["hold_id"]
    r = client.post(f"/v1/holds/{hold}/release", headers=bearer(other.tenant_id))
    assert r.status_code == 404
    # Same resource id, same slot, other tenant: tenants do not share resources (the
    # exclusion constraint is per tenant), while the same tenant still conflicts.
    assert _hold(client, other.tenant_id, resource).status_code == 201
    assert _hold(client, tenant.tenant_id, resource).status_code == 409


# --- scheduling -------------------------------------------------------------------------------


def test_hold_book_cancel_chain_shares_correlation_and_causation(client, engine, tenant):
    # A missed call opens the caller's thread; the hold for that caller joins it.
    assert twilio_post(client, "/twilio/voice/status", {
        "CallSid": "CA1", "CallStatus": "no-answer", "From": CALLER,
        "To": tenant.numbers[0]}).status_code == 200
    item_id, _ = _item(client, tenant.tenant_id)
    resource = uuid.uuid4()
    r = _hold(client, tenant.tenant_id, resource, customer_phone=CALLER)
    assert r.status_code == 201, r.text
    hold_id = r.json()["hold_id"]
    r = client.post(f"/v1/holds/{hold_id}/book", headers=bearer(tenant.tenant_id),
                    json={"service_item_id": str(item_id)})
    assert r.status_code == 200, r.text
    appointment = r.json()["appointment_id"]
    r = client.post(f"/v1/appointments/{appointment}/cancel", headers=bearer(tenant.tenant_id),
                    json={"reason": "user"})
    assert r.status_code == 200, r.text
    events = {e.event_name.split(".")[-1]: e for e in outbox(engine)}
    call, held = events["CallDetected"], events["AppointmentHeld"]
    booked, cancelled = events["AppointmentBooked"], events["AppointmentCancelled"]
    assert {held.correlation_id, booked.correlation_id, cancelled.correlation_id} == \
        {call.correlation_id}
    assert booked.causation_id == held.event_id
    assert cancelled.causation_id == booked.event_id
    assert booked.payload["customer_phone"] == CALLER
    assert cancelled.payload["cancelled_reason"] == "user"
    # The slot is free again.
    assert _hold(client, tenant.tenant_id, resource).status_code == 201


def test_overlap_is_409_naming_the_conflict_and_adjacent_slots_are_fine(client, engine, tenant):
    resource = uuid.uuid4()
    first = _hold(client, tenant.tenant_id, resource, 0, 2).json()
    r = _hold(client, tenant.tenant_id, resource, 1, 2)
    assert r.status_code == 409
    assert r.json()["conflict"]["hold_id"] == first["hold_id"]
    assert r.json()["conflict"]["status"] == "held"
    assert _hold(client, tenant.tenant_id, resource, 2, 1).status_code == 201  # back to back
    assert _hold(client, tenant.tenant_id, uuid.uuid4(), 0, 2).status_code == 201


def test_the_database_itself_refuses_overlap(engine, tenant):
    resource = uuid.uuid4()
    insert = text(
        "INSERT INTO reservations (hold_id, tenant_id, resource_id, start_at, end_at, status, "
        "expires_at, correlation_id, held_event_id) VALUES (gen_random_uuid(), :t, :r, :s, :e,"
        " :st, now() + interval '1 hour', gen_random_uuid(), gen_random_uuid())")
    args = {"t": tenant.tenant_id, "r": resource, "s": T0, "e": T0 + timedelta(hours=2)}
    with engine.begin() as conn:
        conn.execute(insert, {**args, "st": "booked"})
    with pytest.raises(IntegrityError, match="reservations_no_overlap"), engine.begin() as conn:
        conn.execute(insert, {**args, "st": "held", "s": T0 + timedelta(hours=1)})
    with engine.begin() as conn:  # released / cancelled rows do not block
        conn.execute(insert, {**args, "st": "released"})


def test_concurrent_overlapping_holds_exactly_one_wins(engine, tenant):
    resource = uuid.uuid4()
    attempts = 12
    barrier = threading.Barrier(attempts)
    results: list[str] = []
    lock = threading.Lock()

    def attempt(i: int) -> None:
        req = holds.HoldRequest(resource, T0 + timedelta(minutes=i),
                                   T0 + timedelta(hours=2, minutes=i), 600)
        barrier.wait()
        try:
            with Session(engine) as s, s.begin():
                holds.place_hold(s, OutboxWriter(), tenant.tenant_id, req, datetime.now(UTC), 3600)
            outcome = "held"
        except Refused as exc:
            outcome = str(exc.status)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == ["409"] * (attempts - 1) + ["held"]
    assert count(engine, "reservations") == 1
    assert [e.event_name for e in outbox(engine)] == ["nmc.scheduling.AppointmentHeld"]


def test_concurrent_disjoint_holds_all_win(engine, tenant):
    resource = uuid.uuid4()
    barrier = threading.Barrier(6)
    errors: list[Exception] = []

    def attempt(i: int) -> None:
        req = holds.HoldRequest(resource, T0 + timedelta(hours=i),
                                   T0 + timedelta(hours=i + 1), 600)
        barrier.wait()
        try:
            with Session(engine) as s, s.begin():
                holds.place_hold(s, OutboxWriter(), tenant.tenant_id, req, datetime.now(UTC), 3600)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert count(engine, "reservations") == 6


def test_release_and_state_conflicts(client, engine, tenant):
    hold_id = _hold(client, tenant.tenant_id, uuid.uuid4()).json()["hold_id"]
    r = client.post(f"/v1/holds/{hold_id}/release", headers=bearer(tenant.tenant_id))
    assert r.status_code == 200
    r = client.post(f"/v1/holds/{hold_id}/release", headers=bearer(tenant.tenant_id))
    assert r.status_code == 409
    assert "released" in r.json()["errors"][0]["reason"]
    r = client.post(f"/v1/holds/{hold_id}/book", headers=bearer(tenant.tenant_id),
                    json={"service_item_id": str(uuid.uuid4()), "customer_phone": CALLER})
    assert r.status_code == 409
    released = [e for e in outbox(engine) if e.event_name.endswith("AppointmentReleased")]
    assert len(released) == 1


def test_booking_needs_an_active_catalog_item_and_a_phone(client, engine, tenant):
    hold_id = _hold(client, tenant.tenant_id, uuid.uuid4()).json()["hold_id"]
    url = f"/v1/holds/{hold_id}/book"
    r = client.post(url, headers=bearer(tenant.tenant_id),
                    json={"service_item_id": str(uuid.uuid4()), "customer_phone": CALLER})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "service_item_id"
    item_id, _ = _item(client, tenant.tenant_id)
    r = client.post(url, headers=bearer(tenant.tenant_id),
                    json={"service_item_id": str(item_id)})
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == "customer_phone"


def test_expiry_job_releases_expired_holds_and_frees_the_slot(client, engine, tenant):
    from producers.edges.cli import expire_holds_once

    resource = uuid.uuid4()
    hold_id = _hold(client, tenant.tenant_id, resource).json()["hold_id"]
    live = _hold(client, tenant.tenant_id, uuid.uuid4()).json()["hold_id"]
    assert expire_holds_once(engine, OutboxWriter()) == 0
    later = datetime.now(UTC) + timedelta(seconds=601)
    released = expire_holds_once(engine, OutboxWriter(), now=later)
    assert released == 2
    events = [e for e in outbox(engine) if e.event_name.endswith("AppointmentReleased")]
    assert {e.payload["hold_id"] for e in events} == {hold_id, live}
    held = {e.payload["hold_id"]: e for e in outbox(engine)
            if e.event_name.endswith("AppointmentHeld")}
    assert all(e.causation_id == held[e.payload["hold_id"]].event_id for e in events)
    assert expire_holds_once(engine, OutboxWriter(), now=later) == 0
    assert _hold(client, tenant.tenant_id, resource).status_code == 201


def test_an_expired_hold_does_not_block_a_new_one(client, engine, tenant):
    resource = uuid.uuid4()
    hold_id = _hold(client, tenant.tenant_id, resource).json()["hold_id"]
    with engine.begin() as conn:
        conn.execute(text("UPDATE reservations SET expires_at = now() - interval '1 second'"))
    assert _hold(client, tenant.tenant_id, resource).status_code == 201
    released = [e for e in outbox(engine) if e.event_name.endswith("AppointmentReleased")]
    assert [e.payload["hold_id"] for e in released] == [hold_id]


# --- compliance, gate, takeover ---------------------------------------------------------------


def test_compliance_status_changes_feed_the_gate(client, engine, tenant):
    campaign = uuid.uuid4()
    url = f"/v1/compliance/campaigns/{campaign}"
    assert client.put(url, headers=bearer(tenant.tenant_id), json={"status": "pending"}).json()[
        "changed"]
    assert not client.put(url, headers=bearer(tenant.tenant_id),
                          json={"status": "pending"}).json()["changed"]
    r = client.put(url, headers=bearer(tenant.tenant_id), json={"status": "bogus"})
    assert r.status_code == 400
    with Session(engine) as s:
        gate = messaging_gate(s, tenant.tenant_id)
    assert not gate.allowed and "no approved 10DLC campaign" in gate.reasons
    client.put(url, headers=bearer(tenant.tenant_id), json={"status": "approved"})
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO subscriptions VALUES ('sub_1', :t, 'cus_1', 'pro', 'trialing', "
            "now() + interval '30 days', now(), now())"), {"t": tenant.tenant_id})
    with Session(engine) as s:
        gate = messaging_gate(s, tenant.tenant_id)
    assert gate.allowed and gate.plan == "pro"
    statuses = [e.payload["status"] for e in outbox(engine)]
    assert statuses == ["pending", "approved"]
    assert all(e.event_name == "nmc.compliance.ComplianceStatusChanged" for e in outbox(engine))


def test_takeover_needs_a_user_and_a_thread_of_the_tenant(client, engine, tenant):
    twilio_post(client, "/twilio/sms", {"MessageSid": "SM1", "From": CALLER,
                                        "To": tenant.numbers[0], "Body": "hi"})
    [sms] = outbox(engine)
    conversation = sms.correlation_id
    user = uuid.uuid4()
    url = f"/v1/conversations/{conversation}/takeover"
    assert client.post(url, headers=bearer(tenant.tenant_id)).status_code == 403  # no sub
    other = new_tenant(engine, number=OTHER_NUMBER, name="Other Co")
    assert client.post(url, headers=bearer(other.tenant_id, user)).status_code == 404
    r = client.post(url, headers=bearer(tenant.tenant_id, user),
                    json={"causation_id": str(sms.event_id)})
    assert r.status_code == 200, r.text
    takeover = outbox(engine)[-1]
    assert takeover.event_name == "nmc.conversation.HumanTakeoverRequested"
    assert takeover.correlation_id == conversation
    assert takeover.causation_id == sms.event_id
    assert takeover.payload == {"conversation_id": str(conversation), "user_id": str(user)}
