"""A tenant the reactor texts back: what every reactor test needs first."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from producers.compliance.campaigns import set_campaign_status
from producers.outbox import OutboxWriter
from producers.tables import subscriptions
from producers.tenants.store import add_tenant


def reactive_tenant(engine: Engine, number: str, name: str = "Joe's Plumbing",
                    now: datetime | None = None, **tenant: Any) -> uuid.UUID:
    """A tenant owning `number` with an active subscription and an approved campaign (the
    reactor's conditions for the auto-reply); `tenant`: more `add_tenant` fields."""
    now = now or datetime.now(UTC)
    with Session(engine) as s, s.begin():
        added = add_tenant(s, name=name, numbers=[number], time_zone="UTC", **tenant)
        s.execute(subscriptions.insert().values(
            stripe_subscription_id=f"sub_{uuid.uuid4().hex[:8]}", tenant_id=added.tenant_id,
            stripe_customer_id="cus_1", plan="pro", status="active",
            current_period_end=now + timedelta(days=30), source_created=now))
        set_campaign_status(s, OutboxWriter(), added.tenant_id, uuid.uuid4(), "approved", now)
    return added.tenant_id
