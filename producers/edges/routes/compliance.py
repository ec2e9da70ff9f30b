"""`PUT /v1/compliance/campaigns/{campaign_id}`: a 10DLC campaign's status
(`producers.compliance.campaigns`)."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter

from producers.compliance import campaigns
from producers.edges.bodies import Body
from producers.edges.deps import Caller, EdgeDep, event_ref, now

router = APIRouter()


class CampaignIn(Body):
    status: Literal["pending", "approved", "rejected"]


@router.put("/v1/compliance/campaigns/{campaign_id}")
def put_campaign(campaign_id: UUID, body: CampaignIn, who: Caller,
                 edge: EdgeDep) -> dict[str, Any]:
    event = edge.transaction(lambda s: campaigns.set_campaign_status(
        s, edge.writer, who.tenant_id, campaign_id, body.status, now()))
    return {"campaign_id": str(campaign_id), "changed": event is not None,
            "event": event_ref(event)}
