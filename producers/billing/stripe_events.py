"""Stripe subscription events -> the subscription row (the messaging gate's) and
SubscriptionUpdated.

Idempotent on the Stripe event id (`stripe_events`). Stripe does not order deliveries, so the
subscription row only takes an event newer than the one it holds (by the event's `created`);
an older one is recorded and acknowledged without an event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from nmc.contract.envelope import new_event
from nmc.contract.ids import stable_id
from producers.billing.subscriptions import plan_for, subscription_status
from producers.errors import Refused, Replayed
from producers.outbox import OutboxWriter
from producers.outcomes import HookResult
from producers.tables import stripe_events, subscriptions
from producers.tenants import UnknownTenant, tenant_for_stripe_customer


@dataclass(frozen=True)
class SubscriptionChange:
    """The fields we use of one verified, bounded customer.subscription.* event."""

    event_id: str
    type: str
    subscription_id: str
    customer: str
    status: str
    created: datetime
    price_ids: list[str]
    current_period_end: datetime


def record_subscription_change(
    session: Session, writer: OutboxWriter, change: SubscriptionChange,
    price_plans: Mapping[str, str], now: datetime,
) -> HookResult:
    """Record one Stripe event and, when it is the newest the subscription has seen, the
    subscription's state and its SubscriptionUpdated, in the caller's transaction."""
    try:
        tenant = tenant_for_stripe_customer(session, change.customer)
    except UnknownTenant:
        raise Refused(404, f"unknown tenant: no tenant has Stripe customer "
                        f"{change.customer}", "data.object.customer") from None
    plan = plan_for(change.price_ids, price_plans)
    if plan is None:
        raise Refused(422, f"no configured plan for prices {change.price_ids} "
                        "(NMC_EDGE_PRICE_PLANS)", "data.object.items.data.price.id")
    status = subscription_status(change.status)
    if status is None:
        raise Refused(422, f"unknown subscription status {change.status!r}",
                        "data.object.status")
    current = session.execute(
        select(subscriptions.c.source_created)
        .where(subscriptions.c.stripe_subscription_id == change.subscription_id)
        .with_for_update()
    ).first()
    applies = current is None or current.source_created <= change.created
    recorded = session.execute(
        insert(stripe_events)
        .values(stripe_event_id=change.event_id, event_type=change.type,
                tenant_id=tenant.tenant_id, created=change.created, applied=applies)
        .on_conflict_do_nothing(index_elements=["stripe_event_id"])
        .returning(stripe_events.c.stripe_event_id)
    ).first()
    if recorded is None:
        raise Replayed(HookResult("replayed", detail=change.event_id))
    if not applies:
        return HookResult("ignored-older",
                          detail="older than the subscription state we hold")
    values = {
        "tenant_id": tenant.tenant_id, "stripe_customer_id": change.customer, "plan": plan,
        "status": status, "current_period_end": change.current_period_end,
        "source_created": change.created, "updated_at": now,
    }
    session.execute(
        insert(subscriptions)
        .values(stripe_subscription_id=change.subscription_id, **values)
        .on_conflict_do_update(index_elements=["stripe_subscription_id"], set_=values)
    )
    envelope = new_event(
        "nmc.billing.SubscriptionUpdated",
        event_id=stable_id("event", "stripe", change.event_id),
        tenant_id=tenant.tenant_id,
        # One billing flow per subscription: its updates stay in order on one key.
        correlation_id=stable_id("subscription", tenant.tenant_id, change.subscription_id),
        occurred_at=change.created,
        payload={"stripe_customer_id": change.customer,
                 "stripe_subscription_id": change.subscription_id, "plan": plan,
                 "status": status, "current_period_end": change.current_period_end},
    )
    writer.append(session, envelope)
    return HookResult("subscription-updated", envelope.event_id)
