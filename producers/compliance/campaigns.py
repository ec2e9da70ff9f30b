"""Compliance commands: a tenant's 10DLC campaign states (what the messaging gate reads)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from nmc.contract.envelope import Envelope
from nmc.contract.ids import stable_id
from producers.outbox import OutboxWriter, emit
from producers.tables import compliance_campaigns


def set_campaign_status(
    session: Session,
    writer: OutboxWriter,
    tenant_id: UUID,
    campaign_id: UUID,
    status: str,
    now: datetime,
) -> Envelope | None:
    """Record a 10DLC campaign state (the outbound gate's data); event only on change."""
    current = session.execute(
        select(compliance_campaigns.c.status)
        .where(compliance_campaigns.c.tenant_id == tenant_id,
               compliance_campaigns.c.campaign_id == campaign_id)
        .with_for_update()
    ).first()
    if current is not None and current.status == status:
        return None
    session.execute(
        insert(compliance_campaigns)
        .values(tenant_id=tenant_id, campaign_id=campaign_id, status=status, updated_at=now)
        .on_conflict_do_update(index_elements=["tenant_id", "campaign_id"],
                               set_={"status": status, "updated_at": now})
    )
    return emit(session, writer, "nmc.compliance.ComplianceStatusChanged", tenant_id,
                 stable_id("compliance", tenant_id, campaign_id),
                 {"campaign_id": str(campaign_id), "status": status}, now)
