"""`/v1/compliance/campaigns` and `/v1/subscription`: the tenant's messaging-campaign
registration status and its billing subscription."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path

from nmc_streams.api import queries
from nmc_streams.api.deps import CurrentTenant, DbDep
from nmc_streams.api.errors import ERROR_RESPONSES, NOT_FOUND, not_found
from nmc_streams.api.models import CampaignCompliance, CampaignList, Subscription

router = APIRouter(responses=ERROR_RESPONSES)  # full paths: see conversations


@router.get("/v1/compliance/campaigns", tags=["compliance"], summary="Status of every campaign")
async def list_campaigns(who: CurrentTenant, db: DbDep) -> CampaignList:
    rows = await db.run(queries.list_campaigns, who.tenant_id)
    return CampaignList(items=[CampaignCompliance.model_validate(r) for r in rows])


@router.get("/v1/compliance/campaigns/{campaign_id}", tags=["compliance"],
            summary="Status of one campaign", responses=NOT_FOUND)
async def get_campaign(
    who: CurrentTenant, db: DbDep, campaign_id: Annotated[UUID, Path()]
) -> CampaignCompliance:
    row = await db.run(queries.get_campaign, who.tenant_id, campaign_id)
    if row is None:
        raise not_found("campaign", "campaign_id")
    return CampaignCompliance.model_validate(row)


@router.get("/v1/subscription", tags=["billing"], summary="The tenant's subscription",
            responses=NOT_FOUND)
async def get_subscription(who: CurrentTenant, db: DbDep) -> Subscription:
    row = await db.run(queries.get_subscription, who.tenant_id)
    if row is None:
        raise not_found("subscription", "tenant")
    return Subscription.model_validate(row)
