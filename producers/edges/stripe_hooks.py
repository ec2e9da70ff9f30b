"""Stripe webhook: customer.subscription.* -> SubscriptionUpdated (and the gate's row).

Verified with stripe's own `Webhook.construct_event` (HMAC-SHA256 over "t.payload", and the
timestamp within the tolerance). Idempotent on the Stripe event id (`stripe_events`). Stripe
does not order deliveries, so the subscription row only takes an event newer than the one it
holds (by the event's `created`); an older one is recorded and acknowledged without an event.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import stripe
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from nmc.contract.envelope import new_event
from nmc.contract.errors import FieldError
from nmc.contract.ids import stable_id
from producers.billing import subscriptions as billing
from producers.bounds import text_problem, unix_time
from producers.edges.twilio_hooks import HookResult
from producers.errors import Refused, Replayed
from producers.outbox import OutboxWriter
from producers.tables import stripe_events, subscriptions
from producers.tenants import UnknownTenant, tenant_for_stripe_customer

MAX_ID_CHARS = 255  # Stripe ids, types and statuses are short; bound what we store and echo


def verify_stripe(payload: bytes, signature: str | None, secret: str, tolerance_s: int) -> None:
    """403 unless Stripe-Signature is valid and recent; 400 if the body is not UTF-8."""
    if not signature:
        raise Refused(403, "missing Stripe-Signature header", "Stripe-Signature")
    try:
        # Signature and tolerance only: the body is parsed (and bounded) by
        # `subscription_event`, so nothing of it is interpreted before it is trusted.
        stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance_s)
    except stripe.SignatureVerificationError as exc:
        raise Refused(403, str(exc.user_message or exc), "Stripe-Signature") from None
    except ValueError:  # not UTF-8
        raise Refused(400, "body is not UTF-8 text", "body") from None


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(obj, Mapping) or part not in obj:
            return None
        obj = obj[part]
    return obj


def _text(value: Any, field: str, errors: list[FieldError]) -> Any:
    """A required, storable string (bounds.text_problem), else a FieldError."""
    if not isinstance(value, str) or not value:
        errors.append(FieldError(field, "required string is missing"))
    elif (problem := text_problem(value)) is not None:
        errors.append(FieldError(field, problem))
    elif len(value) > MAX_ID_CHARS:
        errors.append(FieldError(field, f"longer than {MAX_ID_CHARS} characters"))
    return value


def parse_subscription_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """The fields we need from a customer.subscription.* event, or 400 naming what's missing.

    `current_period_end` moved from the subscription to its items in Stripe API 2025-03-31;
    both places are read.
    """
    errors: list[FieldError] = []
    sub = _get(event, "data.object")
    if not isinstance(sub, Mapping):
        raise Refused(400, "missing subscription object", "data.object")
    out: dict[str, Any] = {}
    for key, path, value in (
        ("event_id", "id", _get(event, "id")),
        ("type", "type", _get(event, "type")),
        ("subscription_id", "data.object.id", _get(sub, "id")),
        ("customer", "data.object.customer", _get(sub, "customer")),
        ("status", "data.object.status", _get(sub, "status")),
    ):
        out[key] = _text(value, path, errors)
    out["created"] = unix_time(_get(event, "created"), "created", errors)
    items = _get(sub, "items.data")
    if not isinstance(items, list) or not items:
        errors.append(FieldError("data.object.items.data", "subscription has no items"))
        items = []
    prices = [_get(i, "price.id") for i in items]
    out["price_ids"] = [_text(p, f"data.object.items.data.{n}.price.id", errors)
                        for n, p in enumerate(prices) if isinstance(p, str)]
    period_end = _get(sub, "current_period_end")
    if period_end is None and items:
        period_end = _get(items[0], "current_period_end")
    out["current_period_end"] = unix_time(period_end, "data.object.current_period_end", errors)
    if errors:
        raise Refused.fields(400, errors)
    return out


def read_subscription_event(payload: bytes) -> dict[str, Any] | HookResult:
    """Parse and bound a verified Stripe body without the database (before the transaction):
    the `parse_subscription_event` fields of a customer.subscription.* event, an ignored
    `HookResult` for any other type, or a 400 naming the field."""
    try:
        event = json.loads(payload)
    except ValueError as exc:
        raise Refused(400, f"body is not valid JSON: {exc}", "body") from None
    except RecursionError:
        raise Refused(400, "body is nested too deeply", "body") from None
    if not isinstance(event, Mapping):
        raise Refused(400, "expected a JSON object", "body")
    event_type = event.get("type")
    if not isinstance(event_type, str) or not event_type.startswith("customer.subscription."):
        return HookResult("ignored-event-type", detail=repr(event_type)[:100])
    return parse_subscription_event(event)


def subscription_event(
    session: Session, data: Mapping[str, Any], price_plans: Mapping[str, str], now: datetime
) -> HookResult:
    """Record one verified, parsed customer.subscription.* event (`read_subscription_event`)
    and its SubscriptionUpdated, in the caller's transaction."""
    event_type = data["type"]
    try:
        tenant = tenant_for_stripe_customer(session, data["customer"])
    except UnknownTenant:
        raise Refused(404, f"unknown tenant: no tenant has Stripe customer "
                        f"{data['customer']}", "data.object.customer") from None
    plan = billing.plan_for(data["price_ids"], price_plans)
    if plan is None:
        raise Refused(422, f"no configured plan for prices {data['price_ids']} "
                        "(NMC_EDGE_PRICE_PLANS)", "data.object.items.data.price.id")
    status = billing.subscription_status(data["status"])
    if status is None:
        raise Refused(422, f"unknown subscription status {data['status']!r}",
                        "data.object.status")
    current = session.execute(
        select(subscriptions.c.source_created)
        .where(subscriptions.c.stripe_subscription_id == data["subscription_id"])
        .with_for_update()
    ).first()
    applies = current is None or current.source_created <= data["created"]
    recorded = session.execute(
        insert(stripe_events)
        .values(stripe_event_id=data["event_id"], event_type=event_type,
                tenant_id=tenant.tenant_id, created=data["created"], applied=applies)
        .on_conflict_do_nothing(index_elements=["stripe_event_id"])
        .returning(stripe_events.c.stripe_event_id)
    ).first()
    if recorded is None:
        raise Replayed(HookResult("replayed", detail=data["event_id"]))
    if not applies:
        return HookResult("ignored-older",
                          detail="older than the subscription state we hold")
    values = {
        "tenant_id": tenant.tenant_id, "stripe_customer_id": data["customer"], "plan": plan,
        "status": status, "current_period_end": data["current_period_end"],
        "source_created": data["created"], "updated_at": now,
    }
    session.execute(
        insert(subscriptions)
        .values(stripe_subscription_id=data["subscription_id"], **values)
        .on_conflict_do_update(index_elements=["stripe_subscription_id"], set_=values)
    )
    envelope = new_event(
        "nmc.billing.SubscriptionUpdated",
        event_id=stable_id("event", "stripe", data["event_id"]),
        tenant_id=tenant.tenant_id,
        # One billing flow per subscription: its updates stay in order on one key.
        correlation_id=stable_id("subscription", tenant.tenant_id, data["subscription_id"]),
        occurred_at=data["created"],
        payload={"stripe_customer_id": data["customer"],
                 "stripe_subscription_id": data["subscription_id"], "plan": plan,
                 "status": status, "current_period_end": data["current_period_end"]},
    )
    OutboxWriter().append(session, envelope)
    return HookResult("subscription-updated", envelope.event_id)
