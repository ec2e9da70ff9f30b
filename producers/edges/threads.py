"""Conversation threads: the correlation rule.

**Rule.** A thread is (tenant, caller phone) while it is open. The first missed call or
inbound SMS from a caller opens one; its id is the ``correlation_id`` of every event of that
conversation — the missed call, texts both ways, their delivery updates, the hold and the
booking — so they share one record key (``tenant:correlation``), one partition, in commit
order. A thread idle longer than ``thread_idle_s`` is closed and the caller's next contact
opens a new one. The thread id doubles as the ``conversation_id`` of the outbound messages.

``causation_id`` is the event that immediately caused an event: an inbound SMS is caused by
the last outbound text of its thread (the one it answers, if any), a delivery update by the
MessageSent that queued the message, a booking / release by the hold's AppointmentHeld, a
cancellation by the AppointmentBooked. A missed call starts a chain (null).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from producers.edges.tables import threads


@dataclass(frozen=True)
class Thread:
    correlation_id: UUID
    tenant_id: UUID
    caller_phone: str
    last_outbound_event_id: UUID | None
    opened: bool


def _open_row(session: Session, tenant_id: UUID, caller_phone: str):  # type: ignore[no-untyped-def]
    return session.execute(
        select(threads)
        .where(
            threads.c.tenant_id == tenant_id,
            threads.c.caller_phone == caller_phone,
            threads.c.closed_at.is_(None),
        )
        .with_for_update()
    ).first()


def touch_thread(
    session: Session, tenant_id: UUID, caller_phone: str, now: datetime, idle_s: float
) -> Thread:
    """The caller's open thread (locked, activity bumped), opening a new one if there is none
    or it went idle. Concurrent first contacts converge on one thread (partial unique index)."""
    row = _open_row(session, tenant_id, caller_phone)
    if row is not None and row.last_activity_at >= now - timedelta(seconds=idle_s):
        session.execute(
            update(threads)
            .where(threads.c.correlation_id == row.correlation_id)
            .values(last_activity_at=now)
        )
        return Thread(row.correlation_id, tenant_id, caller_phone,
                      row.last_outbound_event_id, opened=False)
    if row is not None:
        session.execute(
            update(threads).where(threads.c.correlation_id == row.correlation_id)
            .values(closed_at=now)
        )
    new_id = uuid.uuid4()
    inserted = session.execute(
        insert(threads)
        .values(correlation_id=new_id, tenant_id=tenant_id, caller_phone=caller_phone,
                opened_at=now, last_activity_at=now)
        .on_conflict_do_nothing(
            index_elements=["tenant_id", "caller_phone"],
            index_where=threads.c.closed_at.is_(None),
        )
        .returning(threads.c.correlation_id)
    ).first()
    if inserted is not None:
        return Thread(new_id, tenant_id, caller_phone, None, opened=True)
    # Another transaction opened it first and has committed by now (we waited on its index
    # entry); read committed gives this statement a fresh snapshot.
    row = _open_row(session, tenant_id, caller_phone)
    assert row is not None
    return Thread(row.correlation_id, tenant_id, caller_phone,
                  row.last_outbound_event_id, opened=False)


def open_thread_for(session: Session, tenant_id: UUID, caller_phone: str) -> UUID | None:
    """The open thread's correlation id for a caller, without touching it."""
    row = session.execute(
        select(threads.c.correlation_id).where(
            threads.c.tenant_id == tenant_id,
            threads.c.caller_phone == caller_phone,
            threads.c.closed_at.is_(None),
        )
    ).first()
    return None if row is None else row.correlation_id


def thread_exists(session: Session, tenant_id: UUID, correlation_id: UUID) -> bool:
    return session.execute(
        select(threads.c.correlation_id).where(
            threads.c.tenant_id == tenant_id, threads.c.correlation_id == correlation_id
        )
    ).first() is not None


def record_outbound(session: Session, correlation_id: UUID, event_id: UUID) -> None:
    """Remember the last outbound text: the causation of the caller's next reply."""
    session.execute(
        update(threads).where(threads.c.correlation_id == correlation_id)
        .values(last_outbound_event_id=event_id)
    )


def close_thread(session: Session, tenant_id: UUID, correlation_id: UUID, now: datetime) -> None:
    """Close a thread explicitly (e.g. the conversation app decides it is done)."""
    session.execute(
        update(threads)
        .where(threads.c.tenant_id == tenant_id, threads.c.correlation_id == correlation_id,
               threads.c.closed_at.is_(None))
        .values(closed_at=now)
    )
