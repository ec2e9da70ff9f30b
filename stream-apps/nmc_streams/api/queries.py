"""SQL over the read models. Every function takes the caller's tenant as its first argument
and every statement filters on it: there is no query here that can return another tenant's
row, whatever the other arguments say.

Plain SQL strings, built once at import: psycopg prepares each on the server at its first use
per connection, and no statement is compiled per request. The column lists come from the
stream apps' own table definitions (`nmc_streams.<app>.app`), so a renamed column fails the tests
here instead of drifting silently. `rpt_daily` is a view (migration rm0001).

Rows come back as dicts of JSON-ready values (uuid as text, timestamps as aware datetimes):
the routes serialise them once, without building a model per row. The conversation reads
(the inbox) go further: PostgreSQL renders their bodies (`body_queries`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Final
from uuid import UUID

from sqlalchemy import Table

from nmc_streams.api.database import Conn, Rows
from nmc_streams.reporting.app import rpt_compliance, rpt_subscriptions
from nmc_streams.scheduling.app import sched_appointments, sched_holds

DAILY_COUNTS: Final = (
    "missed_calls", "missed_calls_no_answer", "missed_calls_busy", "missed_calls_failed",
    "converted_calls", "conversations_started", "messages_in", "messages_out", "delivered",
    "failed", "holds", "bookings", "releases", "cancellations", "cancellations_user",
    "cancellations_tenant", "cancellations_system", "cancellations_conflict", "catalog_changes",
)


def _columns(table: Table, *hidden: str, prefix: str = "") -> str:
    return ", ".join(f"{prefix}{c.name}" for c in table.c if c.name not in hidden)


_SLOT_HIDDEN = ("tenant_id", "correlation_id", "version")


def _overlapping(table: Table, id_column: str) -> dict[bool, str]:
    base = (f"SELECT {_columns(table, *_SLOT_HIDDEN)} FROM {table.name} "
            "WHERE tenant_id = %(t)s AND resource_id = %(r)s "
            "AND start_at < %(end)s AND end_at > %(start)s")
    order = f" ORDER BY start_at, {id_column}"
    return {False: base + order, True: base + " AND status = %(status)s" + order}


_HOLDS = _overlapping(sched_holds, "hold_id")
_APPOINTMENTS = _overlapping(sched_appointments, "appointment_id")
_DAILY = (
    f"SELECT day, {', '.join(DAILY_COUNTS)}, conversion_rate::float8 AS conversion_rate "
    "FROM rpt_daily WHERE tenant_id = %(t)s AND day >= %(start)s AND day <= %(end)s"
)
_CAMPAIGN_COLUMNS = "campaign_id, status, changed_at"
_CAMPAIGNS = (f"SELECT {_CAMPAIGN_COLUMNS} FROM rpt_compliance WHERE tenant_id = %(t)s "
              "ORDER BY campaign_id")
_CAMPAIGN = (f"SELECT {_CAMPAIGN_COLUMNS} FROM rpt_compliance "
             "WHERE tenant_id = %(t)s AND campaign_id = %(c)s")
_SUBSCRIPTION = (f"SELECT {_columns(rpt_subscriptions, 'tenant_id', 'event_id')} "
                 "FROM rpt_subscriptions WHERE tenant_id = %(t)s")
assert {c.name for c in rpt_compliance.c} >= set(_CAMPAIGN_COLUMNS.split(", "))


async def _all(conn: Conn, query: str, params: dict[str, Any]) -> Rows:
    cur = await conn.execute(query, params)
    return await cur.fetchall()


async def _one(conn: Conn, query: str, params: dict[str, Any]) -> dict[str, Any] | None:
    cur = await conn.execute(query, params)
    return await cur.fetchone()


async def resource_holds(conn: Conn, tenant_id: UUID, resource_id: UUID, start: datetime,
                         end: datetime, status: str | None) -> Rows:
    """Holds overlapping [start, end)."""
    return await _all(conn, _HOLDS[status is not None],
                      {"t": tenant_id, "r": resource_id, "start": start, "end": end,
                       "status": status})


async def resource_appointments(conn: Conn, tenant_id: UUID, resource_id: UUID,
                                start: datetime, end: datetime, status: str | None) -> Rows:
    """Appointments overlapping [start, end)."""
    return await _all(conn, _APPOINTMENTS[status is not None],
                      {"t": tenant_id, "r": resource_id, "start": start, "end": end,
                       "status": status})


async def daily_reports(conn: Conn, tenant_id: UUID, start: date,
                        end: date) -> dict[date, dict[str, Any]]:
    """Days in [start, end] that have facts, keyed by day (the route fills the gaps)."""
    rows = await _all(conn, _DAILY, {"t": tenant_id, "start": start, "end": end})
    return {row["day"]: row for row in rows}


async def list_campaigns(conn: Conn, tenant_id: UUID) -> Rows:
    return await _all(conn, _CAMPAIGNS, {"t": tenant_id})


async def get_campaign(conn: Conn, tenant_id: UUID, campaign_id: UUID) -> dict[str, Any] | None:
    return await _one(conn, _CAMPAIGN, {"t": tenant_id, "c": campaign_id})


async def get_subscription(conn: Conn, tenant_id: UUID) -> dict[str, Any] | None:
    return await _one(conn, _SUBSCRIPTION, {"t": tenant_id})
