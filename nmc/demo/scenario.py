"""The NeverMissCall story, played through the real, signed edges.

`ProviderSimulator` signs requests exactly as Twilio (X-Twilio-Signature over the public URL
and the form) and Stripe (Stripe-Signature, HMAC-SHA256 of "<t>.<payload>") do; `play` walks a
missed call to a booking and `wait_for_story` polls the read API until the state has arrived.
Used by `nmc demo` and by the end-to-end test.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from nmc.demo.local_platform import LocalPlatform
from nmc.infra.bearer_tokens import mint_token
from nmc_streams.api.auth import token_rules as api_token_rules
from producers.tenants.store import add_tenant

CUSTOMER_SAYS = "Hi! My kitchen sink is clogged, can someone come tomorrow morning?"


def stripe_signature(payload: str, secret: str, timestamp: int | None = None) -> str:
    """Stripe's documented scheme: `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<payload>")>`."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


@dataclass
class ProviderSimulator:
    """Twilio, Stripe and a tenant's staff, talking to the edge service over HTTP."""

    platform: LocalPlatform
    client: httpx.Client

    def twilio(self, url: str, form: dict[str, str]) -> httpx.Response:
        signature = RequestValidator(self.platform.twilio_token).compute_signature(url, form)
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return self.client.post(
            self.platform.edge_url + path, content=urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded",
                     "X-Twilio-Signature": signature})

    def stripe(self, event: dict[str, Any]) -> httpx.Response:
        payload = json.dumps(event)
        return self.client.post(
            self.platform.edge_url + "/stripe/webhook", content=payload,
            headers={"Content-Type": "application/json",
                     "Stripe-Signature": stripe_signature(payload, self.platform.stripe_secret)})

    def staff(self, method: str, path: str, tenant_id: uuid.UUID,
              body: dict[str, Any]) -> httpx.Response:
        token = mint_token(self.platform.edge_settings.token_rules(), tenant_id, 600,
                           subject=str(uuid.uuid4()))
        return self.client.request(method, self.platform.edge_url + path, json=body,
                                   headers={"Authorization": f"Bearer {token}"})


@dataclass
class Story:
    tenant_id: uuid.UUID
    business_number: str
    caller: str
    resource_id: uuid.UUID
    stripe_customer: str
    hold_id: uuid.UUID | None = None
    appointment_id: uuid.UUID | None = None
    conversation_id: uuid.UUID | None = None


def _ok(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code >= 300:
        raise RuntimeError(f"{what}: HTTP {response.status_code} {response.text[:300]}")
    if "json" in response.headers.get("content-type", ""):
        body: dict[str, Any] = response.json()
        return body
    return {}


def _wait(predicate: Callable[[], Any], what: str, timeout_s: float,
          tick: Callable[[str], None]) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout_s:.0f}s waiting for {what}")
        tick(what)
        time.sleep(0.25)


def new_tenant(platform: LocalPlatform) -> Story:
    """A fresh tenant with its own business number (so runs never collide)."""
    number = f"+1310555{secrets.randbelow(10_000):04d}"
    caller = f"+1415555{secrets.randbelow(10_000):04d}"
    with Session(platform.engine) as session, session.begin():
        tenant = add_tenant(
            session, name="Ace Plumbing", numbers=[number], time_zone="America/Los_Angeles",
            stripe_customer_id=f"cus_{secrets.token_hex(7)}",
            auto_reply_template="Sorry we missed your call! {business} here: how can we help?")
    return Story(tenant.tenant_id, number, caller, uuid.uuid4(), tenant.stripe_customer_id or "")


def play(sim: ProviderSimulator, story: Story, step: Callable[[str], None],
         timeout_s: float = 120.0) -> None:
    """Subscription, campaign, catalog, then: missed call -> auto-reply -> answer -> booking."""
    now = int(time.time())
    _ok(sim.stripe({
        "id": f"evt_{secrets.token_hex(8)}", "object": "event", "created": now,
        "type": "customer.subscription.created", "livemode": False,
        "data": {"object": {
            "id": f"sub_{secrets.token_hex(6)}", "object": "subscription",
            "customer": story.stripe_customer, "status": "active",
            "current_period_end": now + 30 * 86400,
            "items": {"object": "list", "data": [{"id": "si_1", "price": {"id": "price_pro"}}]},
        }},
    }), "Stripe subscription webhook")
    step("Stripe: subscription active (plan pro)")
    _ok(sim.staff("PUT", f"/v1/compliance/campaigns/{uuid.uuid4()}", story.tenant_id,
                  {"status": "approved"}), "campaign approval")
    step("10DLC campaign approved")
    item = uuid.uuid4()
    _ok(sim.staff("PUT", f"/v1/catalog/items/{item}", story.tenant_id,
                  {"name": "Drain cleaning", "price_cents": 14900, "duration_minutes": 120}),
        "catalog item")
    step("catalog: 'Drain cleaning' $149, 2 h")

    edge = sim.platform.edge_url
    _ok(sim.twilio(f"{edge}/twilio/voice/status", {
        "CallSid": "CA" + secrets.token_hex(16), "CallStatus": "no-answer",
        "From": story.caller, "To": story.business_number, "AccountSid": "AC1"}),
        "Twilio voice status callback")
    step(f"Twilio: missed call from {story.caller} (no-answer)")

    twilio = sim.platform.twilio
    sent = _wait(lambda: next((c for c in twilio.calls if c.get("To") == story.caller), None),
                 "the auto-reply to reach Twilio", timeout_s, lambda _w: None)
    step(f"auto-reply sent through Twilio: \"{sent.get('Body')}\"")
    _ok(sim.twilio(sent["StatusCallback"], {
        "MessageSid": sent["Sid"], "MessageStatus": "delivered", "AccountSid": "AC1",
        "From": sent.get("From", story.business_number), "To": story.caller}),
        "Twilio message status callback")
    step("Twilio: auto-reply delivered")

    _ok(sim.twilio(f"{edge}/twilio/sms", {
        "MessageSid": "SM" + secrets.token_hex(16), "From": story.caller,
        "To": story.business_number, "Body": CUSTOMER_SAYS, "AccountSid": "AC1"}),
        "Twilio inbound SMS")
    step(f"customer answers: \"{CUSTOMER_SAYS}\"")

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(
        hour=17, minute=0, second=0, microsecond=0)
    hold = _ok(sim.staff("POST", "/v1/holds", story.tenant_id, {
        "resource_id": str(story.resource_id), "start": tomorrow.isoformat(),
        "end": (tomorrow + timedelta(hours=2)).isoformat(), "ttl_seconds": 900,
        "customer_phone": story.caller}), "hold")
    story.hold_id = uuid.UUID(str(hold["hold_id"]))
    step(f"hold placed for {tomorrow:%a %H:%M} UTC")
    booked = _ok(sim.staff("POST", f"/v1/holds/{story.hold_id}/book", story.tenant_id, {
        "service_item_id": str(item), "customer_phone": story.caller}), "booking")
    story.appointment_id = uuid.UUID(str(booked["appointment_id"]))
    step("hold booked: appointment confirmed")


def read_api(platform: LocalPlatform, tenant_id: uuid.UUID) -> Callable[[str], Any]:
    token = mint_token(api_token_rules(platform.api_settings), tenant_id)
    client = httpx.Client(base_url=platform.api_url,
                          headers={"Authorization": f"Bearer {token}"}, timeout=10)

    def get(path: str) -> Any:
        response = client.get(path)
        return response.json() if response.status_code == 200 else None

    return get


def wait_for_story(platform: LocalPlatform, story: Story, tick: Callable[[str], None],
                   timeout_s: float = 180.0) -> dict[str, Any]:
    """Poll the read API until conversation, appointment and today's report show the story."""
    get = read_api(platform, story.tenant_id)

    def conversation() -> Any:
        listing = get("/v1/conversations")
        if not listing or not listing["items"]:
            return None
        detail = get(f"/v1/conversations/{listing['items'][0]['conversation_id']}")
        messages = (detail or {}).get("messages", [])
        ready = any(m["direction"] == "out" and m["status"] == "delivered" for m in messages) \
            and any(m["direction"] == "in" for m in messages)
        return detail if ready else None

    found = _wait(conversation, "the conversation with both messages", timeout_s, tick)
    story.conversation_id = uuid.UUID(str(found["conversation_id"]))
    day = datetime.now(UTC).date()
    window = f"from={day}T00:00:00Z&to={day + timedelta(days=3)}T00:00:00Z"

    def appointment() -> Any:
        listing = get(f"/v1/resources/{story.resource_id}/appointments?{window}")
        items = (listing or {}).get("items", [])
        return items if any(a["status"] == "booked" for a in items) else None

    appointments = _wait(appointment, "the booked appointment", timeout_s, tick)

    def report() -> Any:
        days = get(f"/v1/reports/daily?from={day}&to={day}")
        items = (days or {}).get("days", [])
        ok = items and all(items[0].get(k, 0) >= 1 for k in (
            "missed_calls", "bookings", "converted_calls", "messages_in", "messages_out"))
        return items[0] if ok else None

    today = _wait(report, "today's report", timeout_s, tick)
    return {"conversation": found, "appointments": appointments, "report": today}
