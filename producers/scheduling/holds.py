"""Scheduling commands: holds and appointments, each one transaction with its events.

Overlap rule: a hold and the appointment it becomes are one `reservations` row; PostgreSQL's
exclusion constraint `reservations_no_overlap` (btree_gist) refuses two live (held/booked)
rows of one resource whose [start, end) ranges overlap, whatever the concurrency. The
violation becomes a 409 naming the conflicting reservation. Every query is scoped to the
caller's tenant; another tenant's ids are simply "not found".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nmc.contract.envelope import Envelope
from nmc.contract.ids import stable_id
from nmc.contract.payload import check_e164
from producers.conversation.threads import open_thread_for, thread_exists
from producers.errors import Refused
from producers.outbox import OutboxWriter, emit
from producers.scheduling import rules
from producers.tables import catalog_items, reservations

EXCLUSION_VIOLATION = "23P01"


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _slot(row: Any) -> dict[str, Any]:
    return {"resource_id": str(row.resource_id), "start": _ts(row.start_at),
            "end": _ts(row.end_at)}


def _release_rows(
    session: Session,
    writer: OutboxWriter,
    where: Any,
    now: datetime,
) -> list[Envelope]:
    """Release held rows matching `where` (locked), one AppointmentReleased each."""
    rows = session.execute(
        update(reservations)
        .where(where, reservations.c.status == "held")
        .values(status="released", updated_at=now)
        .returning(reservations)
    ).all()
    return [
        emit(session, writer, "nmc.scheduling.AppointmentReleased", r.tenant_id, r.correlation_id,
              {"hold_id": str(r.hold_id), **_slot(r)}, now, causation_id=r.held_event_id,
              event_id=stable_id("event", "AppointmentReleased", r.hold_id))
        for r in rows
    ]


@dataclass(frozen=True)
class HoldRequest:
    resource_id: UUID
    start: datetime
    end: datetime
    ttl_seconds: int
    customer_phone: str | None = None
    correlation_id: UUID | None = None
    causation_id: UUID | None = None


def place_hold(
    session: Session,
    writer: OutboxWriter,
    tenant_id: UUID,
    req: HoldRequest,
    now: datetime,
    max_ttl_s: int,
) -> tuple[Any, Envelope]:
    """Hold a slot for `ttl_seconds`; 409 naming the conflict if it overlaps a live one."""
    errors = rules.check_hold(req.start, req.end, req.ttl_seconds, max_ttl_s, now)
    if errors:
        raise Refused.fields(400, errors)
    if req.customer_phone is not None:
        try:
            check_e164(req.customer_phone)
        except ValueError as exc:
            raise Refused(400, str(exc), "customer_phone") from None
    correlation = req.correlation_id
    if correlation is not None and not thread_exists(session, tenant_id, correlation):
        raise Refused(404, "unknown conversation thread for this tenant", "correlation_id")
    if correlation is None and req.customer_phone is not None:
        correlation = open_thread_for(session, tenant_id, req.customer_phone)
    hold_id = uuid.uuid4()
    correlation = correlation or hold_id
    span = func.tstzrange(reservations.c.start_at, reservations.c.end_at, "[)").op("&&")(
        func.tstzrange(req.start, req.end, "[)"))
    # An expired hold the job has not released yet must not block the slot: release it now.
    _release_rows(session, writer, and_(reservations.c.tenant_id == tenant_id,
                                reservations.c.resource_id == req.resource_id,
                                reservations.c.expires_at <= now, span), now)
    held_event_id = uuid.uuid4()
    try:
        with session.begin_nested():
            row = session.execute(
                insert(reservations)
                .values(hold_id=hold_id, tenant_id=tenant_id, resource_id=req.resource_id,
                        start_at=req.start, end_at=req.end, status="held",
                        expires_at=rules.hold_expiry(now, req.ttl_seconds),
                        correlation_id=correlation, customer_phone=req.customer_phone,
                        held_event_id=held_event_id, created_at=now, updated_at=now)
                .returning(reservations)
            ).one()
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) != EXCLUSION_VIOLATION:
            raise
        conflict = session.execute(
            select(reservations).where(
                reservations.c.tenant_id == tenant_id,
                reservations.c.resource_id == req.resource_id,
                reservations.c.status.in_(("held", "booked")), span)
            .limit(1)
        ).first()
        extra = {} if conflict is None else {"conflict": {
            "hold_id": str(conflict.hold_id), "status": conflict.status,
            "appointment_id": None if conflict.appointment_id is None
            else str(conflict.appointment_id), **_slot(conflict)}}
        raise Refused(409, "the resource is already held or booked in this time range",
                        "start", extra) from None
    event = emit(session, writer, "nmc.scheduling.AppointmentHeld", tenant_id, correlation,
                  {"hold_id": str(hold_id), **_slot(row)}, now, req.causation_id,
                  event_id=held_event_id)
    return row, event


def _hold(session: Session, tenant_id: UUID, hold_id: UUID) -> Any:
    row = session.execute(
        select(reservations)
        .where(reservations.c.tenant_id == tenant_id, reservations.c.hold_id == hold_id)
        .with_for_update()
    ).first()
    if row is None:
        raise Refused(404, "unknown hold for this tenant", "hold_id")
    return row


def book_hold(
    session: Session, writer: OutboxWriter, tenant_id: UUID, hold_id: UUID, service_item_id: UUID,
    customer_phone: str | None, now: datetime,
) -> tuple[Any, Envelope]:
    """Convert a live hold into an appointment (same row, so the slot stays excluded)."""
    row = _hold(session, tenant_id, hold_id)
    if row.status != "held":
        raise Refused(409, f"hold is {row.status}, not held", "hold_id")
    if row.expires_at <= now:
        raise Refused(409, "hold expired", "hold_id")
    phone = customer_phone or row.customer_phone
    if phone is None:
        raise Refused(400, "required (the hold has none)", "customer_phone")
    try:
        check_e164(phone)
    except ValueError as exc:
        raise Refused(400, str(exc), "customer_phone") from None
    item = session.execute(
        select(catalog_items.c.active).where(catalog_items.c.tenant_id == tenant_id,
                                             catalog_items.c.item_id == service_item_id)
    ).first()
    if item is None or not item.active:
        raise Refused(422, "no active catalog item with this id", "service_item_id")
    appointment_id = stable_id("appointment", hold_id)
    booked_event_id = stable_id("event", "AppointmentBooked", hold_id)
    booked = session.execute(
        update(reservations).where(reservations.c.hold_id == hold_id)
        .values(status="booked", appointment_id=appointment_id, customer_phone=phone,
                service_item_id=service_item_id, booked_event_id=booked_event_id,
                updated_at=now)
        .returning(reservations)
    ).one()
    event = emit(session, writer, "nmc.scheduling.AppointmentBooked", tenant_id, row.correlation_id,
                  {"appointment_id": str(appointment_id), **_slot(row),
                   "service_item_id": str(service_item_id), "customer_phone": phone},
                  now, row.held_event_id, event_id=booked_event_id)
    return booked, event


def release_hold(
    session: Session,
    writer: OutboxWriter,
    tenant_id: UUID,
    hold_id: UUID,
    now: datetime,
) -> Envelope:
    row = _hold(session, tenant_id, hold_id)
    if row.status != "held":
        raise Refused(409, f"hold is {row.status}, not held", "hold_id")
    return _release_rows(session, writer, reservations.c.hold_id == hold_id, now)[0]


def cancel_appointment(
    session: Session,
    writer: OutboxWriter,
    tenant_id: UUID,
    appointment_id: UUID,
    reason: str,
    now: datetime,
) -> Envelope:
    row = session.execute(
        select(reservations)
        .where(reservations.c.tenant_id == tenant_id,
               reservations.c.appointment_id == appointment_id)
        .with_for_update()
    ).first()
    if row is None:
        raise Refused(404, "unknown appointment for this tenant", "appointment_id")
    if row.status != "booked":
        raise Refused(409, f"appointment is {row.status}, not booked", "appointment_id")
    session.execute(
        update(reservations).where(reservations.c.hold_id == row.hold_id)
        .values(status="cancelled", cancelled_reason=reason, updated_at=now)
    )
    return emit(session, writer, "nmc.scheduling.AppointmentCancelled", tenant_id,
                row.correlation_id, {"appointment_id": str(appointment_id), **_slot(row),
                                     "cancelled_reason": reason}, now, row.booked_event_id,
                 event_id=stable_id("event", "AppointmentCancelled", appointment_id))


def release_expired_holds(
    session: Session,
    writer: OutboxWriter,
    now: datetime,
    limit: int = 500,
) -> list[Envelope]:
    """The expiry job's step: release up to `limit` expired holds (SKIP LOCKED, so several
    jobs and live requests do not block each other)."""
    ids = select(reservations.c.hold_id).where(
        reservations.c.status == "held", reservations.c.expires_at <= now
    ).order_by(reservations.c.expires_at).limit(limit).with_for_update(skip_locked=True)
    return _release_rows(session, writer, reservations.c.hold_id.in_(ids.scalar_subquery()), now)
