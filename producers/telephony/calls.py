"""Voice status callbacks: a call that ended unanswered becomes CallDetected.

Idempotent on the CallSid (`calls.call_sid` unique): a provider retry rolls back
(`Replayed`) and is answered as a success having written nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from nmc.contract.envelope import new_event
from nmc.contract.ids import stable_id
from producers.conversation.threads import touch_thread
from producers.outbox import OutboxWriter
from producers.outcomes import HookResult
from producers.tables import calls
from producers.telephony.callbacks import insert_once
from producers.telephony.numbers import tenant_owning
from producers.telephony.rules import missed_call_reason


@dataclass(frozen=True)
class CallStatusUpdate:
    """A verified voice status callback (phones already checked as E.164 by the edge)."""

    call_sid: str
    call_status: str
    from_phone: str
    to_phone: str


def record_call_status(
    session: Session, writer: OutboxWriter, call: CallStatusUpdate, now: datetime,
    idle_s: float,
) -> HookResult:
    """A call that ended no-answer / busy / failed -> its `calls` row and CallDetected, in
    the caller's thread (opened when idle for `idle_s`), in the caller's transaction."""
    reason = missed_call_reason(call.call_status)
    if reason is None:
        return HookResult("ignored-call-status", detail=f"call status {call.call_status!r}")
    tenant = tenant_owning(session, call.to_phone, "To")
    sid, caller = call.call_sid, call.from_phone
    thread = touch_thread(session, tenant.tenant_id, caller, now, idle_s)
    call_id = stable_id("twilio-call", sid)
    event_id = stable_id("event", "CallDetected", sid)
    insert_once(session, calls, "call_sid", {
        "call_id": call_id, "tenant_id": tenant.tenant_id, "call_sid": sid,
        "from_phone": caller, "to_phone": call.to_phone, "call_status": call.call_status,
        "correlation_id": thread.correlation_id, "event_id": event_id})
    event = new_event(
        "nmc.telephony.CallDetected",
        event_id=event_id,
        tenant_id=tenant.tenant_id,
        correlation_id=thread.correlation_id,
        occurred_at=now,
        payload={"call_id": str(call_id), "from_phone": caller, "to_phone": call.to_phone,
                 "reason": reason, "provider_ref": sid},
    )
    writer.append(session, event)
    return HookResult("call-detected", event.event_id)
