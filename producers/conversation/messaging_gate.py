"""The outbound-messaging gate's data, read in one place: a tenant may text callers only
with a live subscription (active / trialing) and an approved 10DLC campaign."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import Connection, Uuid, cast, exists, func, select, true
from sqlalchemy.dialects.postgresql import ARRAY
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
    return messaging_gates(db, [tenant_id])[tenant_id]


def messaging_gates(db: Session | Connection,
                    tenant_ids: Iterable[UUID]) -> dict[UUID, GateDecision]:
    """`messaging_gate` of several tenants in one query (the reactor reads a batch's at once)."""
    ids = sorted(set(tenant_ids))
    if not ids:
        return {}
    wanted = select(func.unnest(cast(ids, ARRAY(Uuid))).label("tenant_id")).subquery()
    latest = (
        select(subscriptions.c.plan, subscriptions.c.status)
        .where(subscriptions.c.tenant_id == wanted.c.tenant_id)
        .order_by(subscriptions.c.source_created.desc()).limit(1)
        .lateral()
    )
    approved = exists().where(compliance_campaigns.c.tenant_id == wanted.c.tenant_id,
                              compliance_campaigns.c.status == "approved")
    rows = db.execute(
        select(wanted.c.tenant_id, latest.c.plan, latest.c.status, approved.label("approved"))
        .select_from(wanted.outerjoin(latest, true()))
    ).all()
    gates = {}
    for row in rows:
        reasons = []
        if row.status is None:
            reasons.append("no subscription")
        elif row.status not in LIVE_SUBSCRIPTION:
            reasons.append(f"subscription is {row.status}")
        if not row.approved:
            reasons.append("no approved 10DLC campaign")
        gates[row.tenant_id] = GateDecision(not reasons, row.plan, tuple(reasons))
    return gates
