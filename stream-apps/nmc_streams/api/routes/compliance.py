"""`/v1/compliance/campaigns` and `/v1/subscription`: the tenant's messaging-campaign
registration status and its billing subscription."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request

from nmc_streams.api import queries
from nmc_streams.api.deps import CurrentTenant, database
from nmc_streams.api.errors import ERROR_RESPONSES, NOT_FOUND, not_found
from nmc_streams.api.models import CampaignCompliance, CampaignList, Subscription
from nmc_streams.api.params import Params, openapi_parameters, parse
from nmc_streams.api.responses import JsonBody

router = APIRouter(responses=ERROR_RESPONSES)  # full paths: see conversations


class CampaignPath(Params):
    path = frozenset({"campaign_id"})
    campaign_id: UUID


@router.get("/v1/compliance/campaigns", tags=["compliance"], summary="Status of every campaign",
            response_model=CampaignList)
async def list_campaigns(request: Request, who: CurrentTenant) -> JsonBody:
    return JsonBody({"items": await database(request).run(queries.list_campaigns,
                                                          who.tenant_id)})


@router.get("/v1/compliance/campaigns/{campaign_id}", tags=["compliance"],
            summary="Status of one campaign", responses=NOT_FOUND,
            response_model=CampaignCompliance, openapi_extra=openapi_parameters(CampaignPath))
async def get_campaign(request: Request, who: CurrentTenant) -> JsonBody:
    p = parse(CampaignPath, request)
    row = await database(request).run(queries.get_campaign, who.tenant_id, p.campaign_id)
    if row is None:
        raise not_found("campaign", "campaign_id")
    return JsonBody(row)


@router.get("/v1/subscription", tags=["billing"], summary="The tenant's subscription",
            responses=NOT_FOUND, response_model=Subscription)
async def get_subscription(request: Request, who: CurrentTenant) -> JsonBody:
    row = await database(request).run(queries.get_subscription, who.tenant_id)
    if row is None:
        raise not_found("subscription", "tenant")
    return JsonBody(row)
