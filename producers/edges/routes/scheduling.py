"""`/v1/holds` and `/v1/appointments`: holds, bookings, releases, cancellations
(`producers.scheduling.holds`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter
from pydantic import Field

from producers.bounds import INTEGER_MAX, StoredText, WindowedDatetime
from producers.edges.bodies import Body
from producers.edges.deps import Caller, EdgeDep, event_ref, now
from producers.scheduling import holds

router = APIRouter()
Phone = Annotated[StoredText, Field(max_length=32)]


class HoldIn(Body):
    resource_id: UUID
    start: WindowedDatetime
    end: WindowedDatetime
    ttl_seconds: int = Field(default=600, ge=1, le=INTEGER_MAX)
    customer_phone: Phone | None = None
    correlation_id: UUID | None = None
    causation_id: UUID | None = None


class BookIn(Body):
    service_item_id: UUID
    customer_phone: Phone | None = None


class CancelIn(Body):
    reason: Literal["user", "tenant", "system", "conflict"]


@router.post("/v1/holds", status_code=201)
def post_hold(body: HoldIn, who: Caller, edge: EdgeDep) -> dict[str, Any]:
    req = holds.HoldRequest(body.resource_id, body.start, body.end, body.ttl_seconds,
                            body.customer_phone, body.correlation_id, body.causation_id)
    max_ttl_s = edge.settings.max_hold_ttl_s
    row, event = edge.transaction(lambda s: holds.place_hold(
        s, edge.writer, who.tenant_id, req, now(), max_ttl_s))
    return {"hold_id": str(row.hold_id), "expires_at": row.expires_at.isoformat(),
            "event": event_ref(event)}


@router.post("/v1/holds/{hold_id}/book")
def post_book(hold_id: UUID, body: BookIn, who: Caller, edge: EdgeDep) -> dict[str, Any]:
    row, event = edge.transaction(lambda s: holds.book_hold(
        s, edge.writer, who.tenant_id, hold_id, body.service_item_id, body.customer_phone, now()))
    return {"appointment_id": str(row.appointment_id), "event": event_ref(event)}


@router.post("/v1/holds/{hold_id}/release")
def post_release(hold_id: UUID, who: Caller, edge: EdgeDep) -> dict[str, Any]:
    event = edge.transaction(lambda s: holds.release_hold(
        s, edge.writer, who.tenant_id, hold_id, now()))
    return {"hold_id": str(hold_id), "event": event_ref(event)}


@router.post("/v1/appointments/{appointment_id}/cancel")
def post_cancel(appointment_id: UUID, body: CancelIn, who: Caller,
                edge: EdgeDep) -> dict[str, Any]:
    event = edge.transaction(lambda s: holds.cancel_appointment(
        s, edge.writer, who.tenant_id, appointment_id, body.reason, now()))
    return {"appointment_id": str(appointment_id), "event": event_ref(event)}
