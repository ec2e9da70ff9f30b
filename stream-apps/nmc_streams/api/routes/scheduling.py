"""`/v1/resources/{resource_id}/appointments|holds`: a resource's calendar in a window.

A resource id of another tenant is not an error: the caller simply has nothing there (an
empty list), which reveals nothing about whether the id exists elsewhere.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import AwareDatetime, Field

from nmc_streams.api import queries
from nmc_streams.api.deps import CurrentTenant, database, settings_of
from nmc_streams.api.errors import ERROR_RESPONSES
from nmc_streams.api.models import Appointments, AppointmentStatus, Holds, HoldStatus
from nmc_streams.api.params import Params, openapi_parameters, parse
from nmc_streams.api.responses import JsonBody
from nmc_streams.api.validators import time_range

router = APIRouter(tags=["scheduling"], responses=ERROR_RESPONSES)  # full paths: see conversations


class _Window(Params):
    path = frozenset({"resource_id"})
    resource_id: UUID
    start: AwareDatetime = Field(alias="from", description="Window start (inclusive), "
                                 "RFC 3339 with offset.")
    end: AwareDatetime = Field(alias="to", description="Window end (exclusive); at most "
                               "NMC_API_MAX_RANGE_DAYS after `from`.")


class AppointmentsQuery(_Window):
    status: AppointmentStatus | None = None


class HoldsQuery(_Window):
    status: HoldStatus | None = None


@router.get("/v1/resources/{resource_id}/appointments",
            summary="Appointments overlapping [from, to)", response_model=Appointments,
            openapi_extra=openapi_parameters(AppointmentsQuery))
async def resource_appointments(request: Request, who: CurrentTenant) -> JsonBody:
    q = parse(AppointmentsQuery, request)
    start, end = time_range(q.start, q.end, settings_of(request).max_range_days)
    rows = await database(request).run(queries.resource_appointments, who.tenant_id,
                                       q.resource_id, start, end, q.status)
    return JsonBody({"resource_id": q.resource_id, "from": start, "to": end, "items": rows})


@router.get("/v1/resources/{resource_id}/holds", summary="Holds overlapping [from, to)",
            response_model=Holds, openapi_extra=openapi_parameters(HoldsQuery))
async def resource_holds(request: Request, who: CurrentTenant) -> JsonBody:
    q = parse(HoldsQuery, request)
    start, end = time_range(q.start, q.end, settings_of(request).max_range_days)
    rows = await database(request).run(queries.resource_holds, who.tenant_id, q.resource_id,
                                       start, end, q.status)
    return JsonBody({"resource_id": q.resource_id, "from": start, "to": end, "items": rows})
