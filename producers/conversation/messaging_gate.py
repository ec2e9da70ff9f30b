"""The outbound-messaging gate's data, read in one place: a tenant may text callers only
with a live subscription (active / trialing) and an approved 10DLC campaign."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from producers.tables import compliance_campaigns, subscriptions

LIVE_SUBSCRIPTION = ("active", "trialing")


@dataclass(frozen=True)
class GateDecision:
    allowed: bool
    plan: str | None
    reasons: tuple[str, ...]


def messaging_gate(db: Session | Connection, tenant_id: UUID) -> GateDecision:
    """Whether the tenant's outbound texts may go out now, and why not."""
    reasons = []
    sub = db.execute(
        select(subscriptions.c.plan, subscriptions.c.status)
        .where(subscriptions.c.tenant_id == tenant_id)
        .order_by(subscriptions.c.source_created.desc()).limit(1)
    ).first()
    if sub is None:
        reasons.append("no subscription")
    elif sub.status not in LIVE_SUBSCRIPTION:
        reasons.append(f"subscription is {sub.status}")
    approved = db.execute(
        select(compliance_campaigns.c.campaign_id).where(
            compliance_campaigns.c.tenant_id == tenant_id,
            compliance_campaigns.c.status == "approved").limit(1)
    ).first()
    if approved is None:
        reasons.append("no approved 10DLC campaign")
    return GateDecision(not reasons, None if sub is None else sub.plan, tuple(reasons))
