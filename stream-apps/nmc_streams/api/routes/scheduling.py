"""`/v1/resources/{resource_id}/appointments|holds`: a resource's calendar in a window.

A resource id of another tenant is not an error: the caller simply has nothing there (an
empty list), which reveals nothing about whether the id exists elsewhere.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime

from nmc_streams.api import queries
from nmc_streams.api.deps import CurrentTenant, DbDep, SettingsDep
from nmc_streams.api.errors import ERROR_RESPONSES
from nmc_streams.api.models import Appointments, AppointmentStatus, Holds, HoldStatus
from nmc_streams.api.responses import JsonBody
from nmc_streams.api.validators import time_range

router = APIRouter(tags=["scheduling"], responses=ERROR_RESPONSES)  # full paths: see conversations

ResourceId = Annotated[UUID, Path()]
From = Annotated[AwareDatetime, Query(alias="from", description="Window start (inclusive), "
                                      "RFC 3339 with offset.")]
To = Annotated[AwareDatetime, Query(alias="to", description="Window end (exclusive); "
                                    "at most NMC_API_MAX_RANGE_DAYS after `from`.")]


@router.get("/v1/resources/{resource_id}/appointments",
            summary="Appointments overlapping [from, to)", response_model=Appointments)
async def resource_appointments(
    who: CurrentTenant, db: DbDep, settings: SettingsDep, resource_id: ResourceId,
    start: From, end: To, status: Annotated[AppointmentStatus | None, Query()] = None,
) -> JsonBody:
    start, end = time_range(start, end, settings.max_range_days)
    rows = await db.run(queries.resource_appointments, who.tenant_id, resource_id, start, end,
                        status)
    return JsonBody({"resource_id": resource_id, "from": start, "to": end, "items": rows})


@router.get("/v1/resources/{resource_id}/holds", summary="Holds overlapping [from, to)",
            response_model=Holds)
async def resource_holds(
    who: CurrentTenant, db: DbDep, settings: SettingsDep, resource_id: ResourceId,
    start: From, end: To, status: Annotated[HoldStatus | None, Query()] = None,
) -> JsonBody:
    start, end = time_range(start, end, settings.max_range_days)
    rows = await db.run(queries.resource_holds, who.tenant_id, resource_id, start, end, status)
    return JsonBody({"resource_id": resource_id, "from": start, "to": end, "items": rows})
