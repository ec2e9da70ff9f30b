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
from typing import Any
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from nmc.contract.keys import record_key
from nmc.infra.retry import TransientConflict
from producers.outbox import lock_keys
from producers.tables import threads


@dataclass(frozen=True)
class Thread:
    correlation_id: UUID
    tenant_id: UUID
    caller_phone: str
    last_outbound_event_id: UUID | None
    opened: bool


def _lock_open_row(session: Session, tenant_id: UUID, caller_phone: str,
                   correlation_id: UUID) -> Any:
    """Row-lock the caller's open thread if it is still `correlation_id` (else None)."""
    return session.execute(
        select(threads)
        .where(
            threads.c.tenant_id == tenant_id,
            threads.c.caller_phone == caller_phone,
            threads.c.correlation_id == correlation_id,
            threads.c.closed_at.is_(None),
        )
        .with_for_update()
    ).first()


class ThreadContention(TransientConflict):
    """The caller's open thread kept changing under us (closed and reopened by concurrent
    requests): transient, the request's transaction is retried (`nmc.infra.retry`)."""


_ATTEMPTS = 5  # each lost race means another request changed the thread and committed


def touch_thread(
    session: Session, tenant_id: UUID, caller_phone: str, now: datetime, idle_s: float
) -> Thread:
    """The caller's open thread (locked, activity bumped), opening a new one if there is none
    or it went idle. Concurrent first contacts converge on one thread (partial unique index).

    Lock order (producers/edges/README.md): the conversation's key lock
    (`producers.outbox.lock_keys`) is taken *before* the thread row is locked, like the
    reactor does, so a webhook and a reaction of one conversation cannot deadlock. The open
    thread is therefore read once without a lock to learn its key, then locked and re-checked.
    """
    for _ in range(_ATTEMPTS):
        seen = open_thread_for(session, tenant_id, caller_phone)
        if seen is None:
            opened = _open_new(session, tenant_id, caller_phone, now)
            if opened is not None:
                return opened
            continue  # another request opened it first: take its key lock, then its row
        lock_keys(session, record_key(tenant_id, seen))
        row = _lock_open_row(session, tenant_id, caller_phone, seen)
        if row is None:
            continue  # closed meanwhile (idle); the next round finds its successor
        if row.last_activity_at >= now - timedelta(seconds=idle_s):
            session.execute(
                update(threads)
                .where(threads.c.correlation_id == row.correlation_id)
                .values(last_activity_at=now)
            )
            return Thread(row.correlation_id, tenant_id, caller_phone,
                          row.last_outbound_event_id, opened=False)
        session.execute(
            update(threads).where(threads.c.correlation_id == row.correlation_id)
            .values(closed_at=now)
        )
        opened = _open_new(session, tenant_id, caller_phone, now)
        if opened is not None:
            return opened
    raise ThreadContention("the caller's open thread changed concurrently")


def _open_new(session: Session, tenant_id: UUID, caller_phone: str,
              now: datetime) -> Thread | None:
    """Insert a new open thread, or None when a concurrent request's open thread won (we
    waited on its index entry; it has committed by then)."""
    new_id = uuid.uuid4()
    # Nobody else knows the new key yet: taking its lock cannot wait, and it keeps the
    # order "key lock, then row" for this transaction's later appends.
    lock_keys(session, record_key(tenant_id, new_id))
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
    if inserted is None:
        return None
    return Thread(new_id, tenant_id, caller_phone, None, opened=True)


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
