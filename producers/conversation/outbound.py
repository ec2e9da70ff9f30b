"""`queue_outbound`: how the conversation reactions hand a text to the sender."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from nmc.contract.envelope import Envelope, known_event, new_event
from nmc.contract.ids import stable_id
from nmc.contract.payload import check_e164
from nmc.infra import tracing
from producers.conversation.threads import record_outbound
from producers.outbox import OutboxWriter
from producers.tables import outbound_messages
from producers.tenants.table import tenant_numbers

# Channel the sender LISTENs on. Notified only by transactions that queue a text (a low rate:
# never the hot outbox path); PostgreSQL folds the notifications of one transaction into one.
SENDER_CHANNEL = "nmc_sender"


def outbound_message(
    *, tenant_id: UUID, correlation_id: UUID, to_phone: str, from_phone: str, body: str,
    conversation_id: UUID | None = None, causation_id: UUID | None = None,
    message_id: UUID | None = None, now: datetime | None = None,
) -> tuple[dict[str, Any], Envelope]:
    """The outbound_messages row (status queued) and its MessageSent(out, queued) event,
    written by `queue_outbound` or, many at once, by the reactions' batch."""
    check_e164(to_phone)
    mid = message_id or uuid.uuid4()
    conversation = conversation_id or correlation_id
    event = known_event(
        "nmc.conversation.MessageSent",
        event_id=stable_id("event", "MessageSent", mid, "queued"),
        tenant_id=tenant_id,
        correlation_id=correlation_id,
        causation_id=causation_id,
        occurred_at=now or datetime.now(UTC),
        payload={"message_id": mid, "conversation_id": conversation,  # known_event: UUIDs
                 "direction": "out", "status": "queued"},
    )
    row = {"message_id": mid, "tenant_id": tenant_id, "correlation_id": correlation_id,
           "conversation_id": conversation, "to_phone": to_phone, "from_phone": from_phone,
           "body": body, "status": "queued", "queued_event_id": event.event_id, "attempts": 0,
           # the sender continues this trace when it sends the text (nmc.infra.tracing)
           "traceparent": tracing.traceparent_of() if tracing.enabled() else None}
    return row, event


def queue_outbound(
    session: Session,
    writer: OutboxWriter,
    *,
    tenant_id: UUID,
    correlation_id: UUID,
    to_phone: str,
    body: str,
    from_phone: str | None = None,
    conversation_id: UUID | None = None,
    causation_id: UUID | None = None,
    message_id: UUID | None = None,
    now: datetime | None = None,
    notify: bool = True,
) -> Envelope:
    """Insert an outbound message (status queued) and its MessageSent(out, queued) event in
    the caller's transaction; commits nothing.

    `correlation_id` is the thread's; `conversation_id` defaults to it. `from_phone` defaults
    to the tenant's first number. Pass a deterministic `message_id` to make a retried
    reaction idempotent: a second call with the same id inserts nothing and returns the
    same event (the outbox ignores its id). `notify` wakes the sender at commit (a caller
    queuing many texts in one transaction may notify once itself).
    """
    if from_phone is None:
        check_e164(to_phone)
        row = session.execute(
            select(tenant_numbers.c.phone).where(tenant_numbers.c.tenant_id == tenant_id)
            .order_by(tenant_numbers.c.phone).limit(1)
        ).first()
        if row is None:
            raise ValueError(f"tenant {tenant_id} has no number to send from")
        from_phone = row.phone
    values, event = outbound_message(
        tenant_id=tenant_id, correlation_id=correlation_id, to_phone=to_phone,
        from_phone=from_phone, body=body, conversation_id=conversation_id,
        causation_id=causation_id, message_id=message_id, now=now)
    inserted = session.execute(
        insert(outbound_messages)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["message_id"])
        .returning(outbound_messages.c.message_id)
    ).first()
    if inserted is not None:
        writer.append(session, event)
        record_outbound(session, correlation_id, event.event_id)
        if notify:
            session.execute(text(f"SELECT pg_notify('{SENDER_CHANNEL}', '')"))
    return event


def delivery_event(
    *, tenant_id: UUID, correlation_id: UUID, causation_id: UUID | None, message_id: UUID,
    status: str, provider_ref: str, error_code: str | None, now: datetime,
) -> Envelope:
    """DeliveryUpdated with a deterministic id per (message, status): the webhook and the
    sender reporting the same step produce one event."""
    return new_event(
        "nmc.conversation.DeliveryUpdated",
        event_id=stable_id("event", "DeliveryUpdated", message_id, status),
        tenant_id=tenant_id,
        correlation_id=correlation_id,
        causation_id=causation_id,
        occurred_at=now,
        payload={"message_id": str(message_id), "status": status,
                 "provider_ref": provider_ref, "error_code": error_code},
    )
