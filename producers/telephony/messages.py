"""Inbound texts (InboundSmsReceived) and the provider's delivery reports of our outbound
texts (DeliveryUpdated).

Idempotency: an inbound text is keyed by its MessageSid (`inbound_messages.message_sid`
unique; a retry rolls back with `Replayed`); a status report by MessageSid + status (a
message's status only moves forward, and the event id is uuid5(message, status)).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from nmc.contract.envelope import new_event
from nmc.contract.ids import stable_id
from producers.conversation import message_status as statuses
from producers.conversation.outbound import delivery_event
from producers.conversation.threads import touch_thread
from producers.errors import Refused
from producers.outbox import OutboxWriter
from producers.outcomes import HookResult
from producers.tables import inbound_messages, outbound_messages
from producers.telephony.callbacks import insert_once
from producers.telephony.numbers import tenant_owning
from producers.telephony.rules import redact_secrets


@dataclass(frozen=True)
class InboundSms:
    """A verified inbound text (phones already checked as E.164 by the edge)."""

    message_sid: str
    from_phone: str
    to_phone: str
    body: str


@dataclass(frozen=True)
class MessageStatusReport:
    """A verified status callback of one of our texts. `message_ref` is our message id, which
    the sender puts in the callback URL, so a report that overtakes the sender's own
    bookkeeping still finds its message."""

    message_sid: str
    message_status: str
    from_phone: str
    error_code: str | None
    message_ref: UUID | None


def receive_sms(
    session: Session, writer: OutboxWriter, sms: InboundSms, now: datetime, idle_s: float
) -> HookResult:
    """Record an inbound text and its InboundSmsReceived, in the caller's thread."""
    tenant = tenant_owning(session, sms.to_phone, "To")
    sid, caller = sms.message_sid, sms.from_phone
    body = redact_secrets(sms.body)
    thread = touch_thread(session, tenant.tenant_id, caller, now, idle_s)
    message_id = stable_id("twilio-sms", sid)
    event_id = stable_id("event", "InboundSmsReceived", sid)
    insert_once(session, inbound_messages, "message_sid", {
        "message_id": message_id, "tenant_id": tenant.tenant_id, "message_sid": sid,
        "from_phone": caller, "to_phone": sms.to_phone, "body": body,
        "correlation_id": thread.correlation_id, "event_id": event_id})
    event = new_event(
        "nmc.telephony.InboundSmsReceived",
        event_id=event_id,
        tenant_id=tenant.tenant_id,
        correlation_id=thread.correlation_id,
        causation_id=thread.last_outbound_event_id,
        occurred_at=now,
        payload={"message_id": str(message_id), "from_phone": caller,
                 "to_phone": sms.to_phone, "body": body, "provider_ref": sid},
    )
    writer.append(session, event)
    return HookResult("sms-received", event.event_id)


def record_message_status(
    session: Session, writer: OutboxWriter, report: MessageStatusReport, now: datetime
) -> HookResult:
    """DeliveryUpdated when the reported status moves the message's status forward."""
    tenant = tenant_owning(session, report.from_phone, "From")
    sid, ref = report.message_sid, report.message_ref
    match = (outbound_messages.c.provider_sid == sid) if ref is None else or_(
        outbound_messages.c.message_id == ref, outbound_messages.c.provider_sid == sid)
    row = session.execute(
        select(outbound_messages)
        .where(outbound_messages.c.tenant_id == tenant.tenant_id, match)
        .with_for_update()
    ).first()
    if row is None:
        raise Refused(404, f"unknown message {sid} for this tenant", "MessageSid")
    new = statuses.delivery_status(report.message_status)
    if new is None:
        return HookResult("ignored-message-status",
                          detail=f"message status {report.message_status!r}")
    if not statuses.advances(row.status, new):
        return HookResult("ignored-not-forward",
                          detail=f"{row.status} -> {new} does not move forward")
    error_code = report.error_code if new == "failed" else None
    session.execute(
        update(outbound_messages)
        .where(outbound_messages.c.message_id == row.message_id)
        .values(status=new, provider_sid=row.provider_sid or sid, error_code=error_code,
                updated_at=now)
    )
    event = delivery_event(
        tenant_id=row.tenant_id, correlation_id=row.correlation_id,
        causation_id=row.queued_event_id, message_id=row.message_id, status=new,
        provider_ref=sid, error_code=error_code, now=now,
    )
    writer.append(session, event)
    return HookResult("delivery-updated", event.event_id, detail=new)
