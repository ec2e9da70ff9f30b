"""Shared fixtures and helpers of the edge tests (imported by test_edges_* / test_sender_*;
this module itself holds no tests)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from nmc.demo.twilio_standin import LocalTwilio
from nmc.infra.bearer_tokens import TokenRules, mint_token
from producers.edges.settings import EdgeSettings
from producers.sender.settings import SenderSettings
from producers.tenants import Tenant, add_tenant

BASE_URL = "https://edge.example.test"
TWILIO_TOKEN = "twilio-test-auth-token"
STRIPE_SECRET = "whsec_testsecret0123456789"
JWT_SECRET = "jwt-test-secret-0123456789abcdef"
TENANT_NUMBER = "+13105550000"
OTHER_NUMBER = "+13105550001"
CALLER = "+13105551212"
PRICE_PLANS = {"price_basic": "basic", "price_pro": "pro"}


def make_settings(**overrides: Any) -> EdgeSettings:
    values: dict[str, Any] = {
        "public_base_url": BASE_URL,
        "twilio_auth_token": SecretStr(TWILIO_TOKEN),
        "stripe_webhook_secret": SecretStr(STRIPE_SECRET),
        "jwt_secret": SecretStr(JWT_SECRET),
        "price_plans": PRICE_PLANS,
    }
    values.update(overrides)
    return EdgeSettings(**values)


def make_sender_settings(twilio_api_base: str, **overrides: Any) -> SenderSettings:
    """The sender's settings beside `make_settings`' edges: same public URL and auth token."""
    values: dict[str, Any] = {
        "public_base_url": BASE_URL,
        "twilio_auth_token": SecretStr(TWILIO_TOKEN),
        "twilio_api_base": twilio_api_base,
        "twilio_account_sid": "AC" + "0" * 32,
    }
    values.update(overrides)
    return SenderSettings(**values)



def new_tenant(engine: Engine, number: str = TENANT_NUMBER,
               customer: str | None = None, name: str = "Ace Plumbing") -> Tenant:
    with Session(engine) as session, session.begin():
        return add_tenant(session, name=name, numbers=[number],
                          time_zone="America/Los_Angeles",
                          stripe_customer_id=customer or f"cus_{uuid.uuid4().hex[:14]}")



def twilio_signature(path: str, params: dict[str, str], *, query: str = "",
                     token: str = TWILIO_TOKEN) -> str:
    """The X-Twilio-Signature Twilio would send for `params` posted to `path?query`."""
    url = BASE_URL + path + (f"?{query}" if query else "")
    return str(RequestValidator(token).compute_signature(url, params))


def twilio_post(client: TestClient, path: str, params: dict[str, str], *, query: str = "",
                signature: str | None = "sign", token: str = TWILIO_TOKEN) -> Any:
    """POST a form the way Twilio does; the signature is computed by twilio's validator over
    the public URL (or replaced by `signature` when it is not "sign")."""
    url = BASE_URL + path + (f"?{query}" if query else "")
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature == "sign":
        headers["X-Twilio-Signature"] = RequestValidator(token).compute_signature(url, params)
    elif signature is not None:
        headers["X-Twilio-Signature"] = signature
    return client.post(path + (f"?{query}" if query else ""), content=urlencode(params),
                       headers=headers)


def stripe_signature(payload: str, secret: str = STRIPE_SECRET,
                     timestamp: int | None = None) -> str:
    """Stripe's documented scheme: v1 = HMAC-SHA256(secret, f"{t}.{payload}") hex."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def subscription_event(customer: str, *, event_id: str | None = None,
                       sub_id: str = "sub_123", status: str = "active",
                       price: str = "price_pro", created: int | None = None,
                       kind: str = "customer.subscription.updated",
                       period_on_items: bool = False) -> dict[str, Any]:
    period_end = 1_790_000_000
    sub: dict[str, Any] = {
        "id": sub_id, "object": "subscription", "customer": customer, "status": status,
        "items": {"object": "list", "data": [
            {"id": "si_1", "price": {"id": price}}]},
    }
    if period_on_items:
        sub["items"]["data"][0]["current_period_end"] = period_end
    else:
        sub["current_period_end"] = period_end
    return {"id": event_id or f"evt_{uuid.uuid4().hex[:16]}", "object": "event", "type": kind,
            "created": created or int(time.time()), "data": {"object": sub},
            "api_version": "2024-06-20", "livemode": False}


def stripe_post(client: TestClient, event: dict[str, Any] | str, *,
                signature: str | None = "sign", timestamp: int | None = None) -> Any:
    payload = event if isinstance(event, str) else json.dumps(event)
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        headers["Stripe-Signature"] = stripe_signature(payload, timestamp=timestamp)
    elif signature is not None:
        headers["Stripe-Signature"] = signature
    return client.post("/stripe/webhook", content=payload, headers=headers)


def bearer(tenant_id: uuid.UUID, user_id: uuid.UUID | None = None,
           secret: str = JWT_SECRET, exp_in: int = 3600) -> dict[str, str]:
    token = mint_token(TokenRules(secret), tenant_id, exp_in,
                       None if user_id is None else str(user_id))
    return {"Authorization": f"Bearer {token}"}


def outbox(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT event_id, event_name, tenant_id, correlation_id, causation_id, payload, "
            "record_key FROM outbox_events ORDER BY id")))


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


ACCOUNT = "AC" + "0" * 32
INVALID_TO = "+13105559999"   # the fake refuses it like Twilio's 21211
BROKEN_TO = "+13105559998"    # the fake answers 500


def fake_twilio_server() -> LocalTwilio:
    """The loopback Twilio, refusing INVALID_TO like Twilio's 21211 and failing BROKEN_TO."""
    return LocalTwilio(ACCOUNT, refuse={
        INVALID_TO: (400, 21211, "Invalid 'To' Phone Number"),
        BROKEN_TO: (500, 20500, "Internal Server Error"),
    })
