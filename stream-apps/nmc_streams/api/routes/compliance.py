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
from nmc_streams.api.responses import JsonBody

router = APIRouter(responses=ERROR_RESPONSES)  # full paths: see conversations


@router.get("/v1/compliance/campaigns", tags=["compliance"], summary="Status of every campaign",
            response_model=CampaignList)
async def list_campaigns(who: CurrentTenant, db: DbDep) -> JsonBody:
    return JsonBody({"items": await db.run(queries.list_campaigns, who.tenant_id)})


@router.get("/v1/compliance/campaigns/{campaign_id}", tags=["compliance"],
            summary="Status of one campaign", responses=NOT_FOUND,
            response_model=CampaignCompliance)
async def get_campaign(
    who: CurrentTenant, db: DbDep, campaign_id: Annotated[UUID, Path()]
) -> JsonBody:
    row = await db.run(queries.get_campaign, who.tenant_id, campaign_id)
    if row is None:
        raise not_found("campaign", "campaign_id")
    return JsonBody(row)


@router.get("/v1/subscription", tags=["billing"], summary="The tenant's subscription",
            responses=NOT_FOUND, response_model=Subscription)
async def get_subscription(who: CurrentTenant, db: DbDep) -> JsonBody:
    row = await db.run(queries.get_subscription, who.tenant_id)
    if row is None:
        raise not_found("subscription", "tenant")
    return JsonBody(row)
