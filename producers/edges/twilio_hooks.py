"""Twilio webhooks: signature check and the three handlers (one transaction each).

Idempotency: a voice callback is keyed by CallSid (`calls.call_sid` unique), an inbound SMS by
MessageSid (`inbound_messages.message_sid` unique), a status callback by MessageSid + status
(the message's status only moves forward, and the event id is uuid5(message, status)).
A retry therefore rolls back (`Replayed`) and answers success having written nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from nmc.contract.envelope import new_event
from nmc.contract.errors import FieldError
from nmc.contract.ids import stable_id
from nmc.contract.payload import check_e164
from producers.conversation import message_status as statuses
from producers.conversation.outbound import delivery_event
from producers.conversation.threads import touch_thread
from producers.edges import decisions
from producers.errors import Refused, Replayed
from producers.outbox import OutboxWriter
from producers.tables import calls, inbound_messages, outbound_messages
from producers.tenants import Tenant, UnknownTenant, tenant_for_number

# The outcome vocabulary of the webhooks (the X-NMC-Outcome header, the Stripe answer):
# fixed strings of ours, never request data.
Outcome = Literal[
    "call-detected", "sms-received", "delivery-updated", "subscription-updated", "replayed",
    "ignored-call-status", "ignored-message-status", "ignored-not-forward",
    "ignored-event-type", "ignored-older",
]


@dataclass(frozen=True)
class HookResult:
    """What a webhook did: `written` False means acknowledged without a new event.

    `outcome` is answered to the caller; `detail` (which may quote request data) is only
    logged."""

    outcome: Outcome
    event_id: UUID | None = None
    detail: str = ""

    @property
    def written(self) -> bool:
        return self.event_id is not None


def verify_twilio(
    auth_token: str, public_base_url: str, path: str, query: str,
    params: Mapping[str, str], signature: str | None,
) -> None:
    """403 unless X-Twilio-Signature matches the public URL Twilio called + the form params."""
    if not signature:
        raise Refused(403, "missing X-Twilio-Signature header", "X-Twilio-Signature")
    url = public_base_url + path + (f"?{query}" if query else "")
    if not RequestValidator(auth_token).validate(url, dict(params), signature):
        raise Refused(403, "signature does not match the request", "X-Twilio-Signature")


def _require(params: Mapping[str, str], *names: str, phones: tuple[str, ...] = ()) -> None:
    errors = [FieldError(n, "required parameter is missing") for n in names if not params.get(n)]
    for name in phones:
        value = params.get(name)
        if value:
            try:
                check_e164(value)
            except ValueError as exc:
                errors.append(FieldError(name, str(exc)))
    if errors:
        raise Refused.fields(400, errors)


def _tenant(session: Session, number: str, field: str) -> Tenant:
    try:
        return tenant_for_number(session, number)
    except UnknownTenant:
        raise Refused(404, f"unknown tenant: no tenant owns {number}", field) from None


def voice_status(
    session: Session, params: Mapping[str, str], now: datetime, idle_s: float
) -> HookResult:
    """Voice status callback: a call that ended no-answer / busy / failed -> CallDetected."""
    _require(params, "CallSid", "CallStatus", "From", "To", phones=("From", "To"))
    reason = decisions.missed_call_reason(params["CallStatus"])
    if reason is None:
        return HookResult("ignored-call-status",
                          detail=f"call status {params['CallStatus']!r}")
    tenant = _tenant(session, params["To"], "To")
    sid, caller = params["CallSid"], params["From"]
    thread = touch_thread(session, tenant.tenant_id, caller, now, idle_s)
    call_id = stable_id("twilio-call", sid)
    event_id = stable_id("event", "CallDetected", sid)
    inserted = session.execute(
        insert(calls)
        .values(call_id=call_id, tenant_id=tenant.tenant_id, call_sid=sid, from_phone=caller,
                to_phone=params["To"], call_status=params["CallStatus"],
                correlation_id=thread.correlation_id, event_id=event_id)
        .on_conflict_do_nothing(index_elements=["call_sid"])
        .returning(calls.c.call_id)
    ).first()
    if inserted is None:
        raise Replayed(HookResult("replayed", detail=sid))
    event = new_event(
        "nmc.telephony.CallDetected",
        event_id=event_id,
        tenant_id=tenant.tenant_id,
        correlation_id=thread.correlation_id,
        occurred_at=now,
        payload={"call_id": str(call_id), "from_phone": caller, "to_phone": params["To"],
                 "reason": reason, "provider_ref": sid},
    )
    OutboxWriter().append(session, event)
    return HookResult("call-detected", event.event_id)


def inbound_sms(
    session: Session, params: Mapping[str, str], now: datetime, idle_s: float
) -> HookResult:
    """Inbound SMS -> InboundSmsReceived, in the caller's thread."""
    _require(params, "MessageSid", "From", "To", phones=("From", "To"))
    tenant = _tenant(session, params["To"], "To")
    sid, caller = params["MessageSid"], params["From"]
    body = decisions.redact_secrets(params.get("Body", ""))
    thread = touch_thread(session, tenant.tenant_id, caller, now, idle_s)
    message_id = stable_id("twilio-sms", sid)
    event_id = stable_id("event", "InboundSmsReceived", sid)
    inserted = session.execute(
        insert(inbound_messages)
        .values(message_id=message_id, tenant_id=tenant.tenant_id, message_sid=sid,
                from_phone=caller, to_phone=params["To"], body=body,
                correlation_id=thread.correlation_id, event_id=event_id)
        .on_conflict_do_nothing(index_elements=["message_sid"])
        .returning(inbound_messages.c.message_id)
    ).first()
    if inserted is None:
        raise Replayed(HookResult("replayed", detail=sid))
    event = new_event(
        "nmc.telephony.InboundSmsReceived",
        event_id=event_id,
        tenant_id=tenant.tenant_id,
        correlation_id=thread.correlation_id,
        causation_id=thread.last_outbound_event_id,
        occurred_at=now,
        payload={"message_id": str(message_id), "from_phone": caller, "to_phone": params["To"],
                 "body": body, "provider_ref": sid},
    )
    OutboxWriter().append(session, event)
    return HookResult("sms-received", event.event_id)


def message_status(
    session: Session, params: Mapping[str, str], message_ref: str | None, now: datetime
) -> HookResult:
    """Message status callback -> DeliveryUpdated when the status moves forward.

    The sender puts our message id in the callback URL (`?mid=`, covered by the signature),
    so a callback that overtakes the sender's own bookkeeping still finds its message.
    """
    _require(params, "MessageSid", "MessageStatus", "From", phones=("From",))
    tenant = _tenant(session, params["From"], "From")
    sid = params["MessageSid"]
    ref: UUID | None = None
    if message_ref:
        try:
            ref = UUID(message_ref)
        except ValueError:
            raise Refused(400, "not a uuid", "mid") from None
    match = (outbound_messages.c.provider_sid == sid) if ref is None else or_(
        outbound_messages.c.message_id == ref, outbound_messages.c.provider_sid == sid)
    row = session.execute(
        select(outbound_messages)
        .where(outbound_messages.c.tenant_id == tenant.tenant_id, match)
        .with_for_update()
    ).first()
    if row is None:
        raise Refused(404, f"unknown message {sid} for this tenant", "MessageSid")
    new = statuses.delivery_status(params["MessageStatus"])
    if new is None:
        return HookResult("ignored-message-status",
                          detail=f"message status {params['MessageStatus']!r}")
    if not statuses.advances(row.status, new):
        return HookResult("ignored-not-forward",
                          detail=f"{row.status} -> {new} does not move forward")
    error_code = (params.get("ErrorCode") or None) if new == "failed" else None
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
    OutboxWriter().append(session, event)
    return HookResult("delivery-updated", event.event_id, detail=new)
