"""Response models: what OpenAPI documents and what the API promises to return.

`from_attributes` lets routes validate SQLAlchemy rows directly; no tenant_id is exposed
(the caller knows its tenant, and echoing it would only invite clients to send it back).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

ConversationStatus = Literal["open", "closed"]
HoldStatus = Literal["held", "booked", "released"]
AppointmentStatus = Literal["booked", "cancelled"]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class Conversation(_Out):
    conversation_id: UUID
    correlation_id: UUID
    caller_phone: str
    status: ConversationStatus
    started_at: datetime
    last_activity_at: datetime
    opened_by_call_id: UUID | None
    takeover_user_id: UUID | None
    takeover_at: datetime | None
    message_count: int


class Message(_Out):
    message_id: UUID
    direction: Literal["in", "out"] | None
    status: Literal["queued", "sent", "delivered", "failed"] | None
    status_at: datetime | None
    first_seen_at: datetime
    from_phone: str | None
    to_phone: str | None
    body: str | None
    error_code: str | None


class AutoReply(_Out):
    decision: Literal["queued", "suppressed"]
    reason: str | None = Field(description="Why no auto-reply went out, when suppressed.")
    message_id: UUID | None


class ConversationDetail(Conversation):
    messages: list[Message] = Field(description="Oldest first (first_seen_at, message_id).")
    auto_reply: AutoReply | None = Field(
        default=None, description="The conversation reactions' decision on the auto-reply "
        "(null until one was taken).")


class ConversationPage(_Out):
    items: list[Conversation]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class Hold(_Out):
    hold_id: UUID
    resource_id: UUID
    start_at: datetime
    end_at: datetime
    status: HoldStatus
    held_at: datetime | None
    released_at: datetime | None
    appointment_id: UUID | None


class Appointment(_Out):
    appointment_id: UUID
    resource_id: UUID
    start_at: datetime
    end_at: datetime
    status: AppointmentStatus
    service_item_id: UUID | None
    customer_phone: str | None
    hold_id: UUID | None
    booked_at: datetime | None
    cancelled_at: datetime | None
    cancelled_reason: str | None


class Holds(_Out):
    resource_id: UUID
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    items: list[Hold]


class Appointments(_Out):
    resource_id: UUID
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    items: list[Appointment]


class DailyReport(_Out):
    """One day's counts; days without any fact are reported with zeros."""

    day: date
    missed_calls: int = 0
    missed_calls_no_answer: int = 0
    missed_calls_busy: int = 0
    missed_calls_failed: int = 0
    converted_calls: int = 0
    conversations_started: int = 0
    messages_in: int = 0
    messages_out: int = 0
    delivered: int = 0
    failed: int = 0
    holds: int = 0
    bookings: int = 0
    releases: int = 0
    cancellations: int = 0
    cancellations_user: int = 0
    cancellations_tenant: int = 0
    cancellations_system: int = 0
    cancellations_conflict: int = 0
    catalog_changes: int = 0
    conversion_rate: float | None = Field(
        default=None, description="converted / missed calls; null when no call was missed."
    )


class DailyReports(_Out):
    start: date = Field(serialization_alias="from")
    end: date = Field(serialization_alias="to")
    days: list[DailyReport]


class CampaignCompliance(_Out):
    campaign_id: UUID
    status: str
    changed_at: datetime


class CampaignList(_Out):
    items: list[CampaignCompliance]


class Subscription(_Out):
    status: str
    plan: str
    stripe_customer_id: str
    stripe_subscription_id: str
    current_period_end: datetime
    changed_at: datetime


class Health(BaseModel):
    status: str
    reason: str | None = None
