"""`/v1/reports/daily`: per-day counts of the caller's tenant, one entry per day."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi import APIRouter, Request
from pydantic import Field

from nmc_streams.api import queries
from nmc_streams.api.deps import CurrentTenant, database, settings_of
from nmc_streams.api.errors import ERROR_RESPONSES
from nmc_streams.api.models import DailyReports
from nmc_streams.api.params import Params, openapi_parameters, parse
from nmc_streams.api.responses import JsonBody
from nmc_streams.api.validators import date_range

router = APIRouter(tags=["reports"], responses=ERROR_RESPONSES)  # full paths: see conversations

# a day without facts (DailyReport's defaults)
_NOTHING: dict[str, int | None] = {**dict.fromkeys(queries.DAILY_COUNTS, 0),
                                    "conversion_rate": None}


class DailyQuery(Params):
    start: date = Field(alias="from", description="First day (YYYY-MM-DD).")
    end: date = Field(alias="to", description="Last day, inclusive; at most "
                      "NMC_API_MAX_REPORT_DAYS days.")


@router.get("/v1/reports/daily", summary="Daily counts for [from, to] (inclusive days)",
            response_model=DailyReports, openapi_extra=openapi_parameters(DailyQuery))
async def daily(request: Request, who: CurrentTenant) -> JsonBody:
    q = parse(DailyQuery, request)
    start, end = date_range(q.start, q.end, settings_of(request).max_report_days)
    found = await database(request).run(queries.daily_reports, who.tenant_id, start, end)
    # a dense series: clients chart it without guessing what a missing day means
    days = [found.get(day) or {"day": day, **_NOTHING}
            for day in (start + timedelta(n) for n in range((end - start).days + 1))]
    return JsonBody({"from": start, "to": end, "days": days})
