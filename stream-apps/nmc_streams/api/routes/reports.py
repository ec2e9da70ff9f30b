"""`/v1/reports/daily`: per-day counts of the caller's tenant, one entry per day."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from nmc_streams.api import queries
from nmc_streams.api.deps import CurrentTenant, DbDep, SettingsDep
from nmc_streams.api.errors import ERROR_RESPONSES
from nmc_streams.api.models import DailyReports
from nmc_streams.api.responses import JsonBody
from nmc_streams.api.validators import date_range

router = APIRouter(tags=["reports"], responses=ERROR_RESPONSES)  # full paths: see conversations

# a day without facts (DailyReport's defaults)
_NOTHING: dict[str, int | None] = {**dict.fromkeys(queries.DAILY_COUNTS, 0),
                                    "conversion_rate": None}


@router.get("/v1/reports/daily", summary="Daily counts for [from, to] (inclusive days)",
            response_model=DailyReports)
async def daily(
    who: CurrentTenant, db: DbDep, settings: SettingsDep,
    start: Annotated[date, Query(alias="from", description="First day (YYYY-MM-DD).")],
    end: Annotated[date, Query(alias="to", description="Last day, inclusive; at most "
                               "NMC_API_MAX_REPORT_DAYS days.")],
) -> JsonBody:
    start, end = date_range(start, end, settings.max_report_days)
    found = await db.run(queries.daily_reports, who.tenant_id, start, end)
    # a dense series: clients chart it without guessing what a missing day means
    days = [found.get(day) or {"day": day, **_NOTHING}
            for day in (start + timedelta(n) for n in range((end - start).days + 1))]
    return JsonBody({"from": start, "to": end, "days": days})
