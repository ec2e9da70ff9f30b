"""Typed models of the NeverMissCall events, one frozen dataclass per event and major.

Generated from schemas-avro/ by `nmc schemas codegen`; do not edit (CI fails when it is stale).
Use `from_dict(value)` on what your Avro deserializer returns; it picks the class by
`event_name` and the major of `schema_version`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar
from uuid import UUID

T = TypeVar("T")


def _opt(convert: Callable[[Any], T], value: Any) -> T | None:
    return None if value is None else convert(value)


def _list(convert: Callable[[Any], T], value: Any) -> list[T]:
    return [convert(v) for v in value]


def _map(convert: Callable[[Any], T], value: Any) -> dict[str, T]:
    return {str(k): convert(v) for k, v in value.items()}


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _ts(value: Any) -> datetime:
    """timestamp-millis: a datetime (Avro decoders), epoch millis, or RFC3339 text."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionUpdatedV1Payload:
    """Event-specific payload of nmc.billing.SubscriptionUpdated."""

    stripe_customer_id: str
    """Stripe customer id, e.g. cus_..."""

    stripe_subscription_id: str
    """Stripe subscription id, e.g. sub_..."""

    plan: str
    """Subscribed plan. Closed set, encoded as a string, not an Avro enum (see
    schemas-avro/README.md); consumers must tolerate values added in a later minor version.
    Allowed values (a later minor may add more): basic, pro."""

    status: str
    """Stripe subscription status. Closed set, encoded as a string, not an Avro enum (see
    schemas-avro/README.md); consumers must tolerate values added in a later minor version.
    Allowed values (a later minor may add more): active, past_due, canceled, trialing."""

    current_period_end: datetime
    """End of the current billing period, UTC (RFC3339 in JSON)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SubscriptionUpdatedV1Payload:
        """From a decoded Avro record or its JSON form; unknown fields are ignored."""
        return cls(
            stripe_customer_id=str(data["stripe_customer_id"]),
            stripe_subscription_id=str(data["stripe_subscription_id"]),
            plan=str(data["plan"]),
            status=str(data["status"]),
            current_period_end=_ts(data["current_period_end"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionUpdatedV1:
    """When: Stripe notifies us of a subscription lifecycle change; Producer: Billing"""

    EVENT_NAME: ClassVar[str] = "nmc.billing.SubscriptionUpdated"
    MAJOR: ClassVar[int] = 1
    SCHEMA_VERSION: ClassVar[str] = "1.0.0"
    TOPIC: ClassVar[str] = "nmc.billing"
    RECORD: ClassVar[str] = "nmc.billing.v1.SubscriptionUpdated"

    event_id: UUID
    """Unique id of this event (uuid). Delivery is at-least-once: consumers must be idempotent and
    dedupe by event_id."""

    event_name: str
    """Canonical event name, dot-separated and domain-scoped: always nmc.<domain>.<EventName>,
    here "nmc.billing.SubscriptionUpdated". Stored in the outbox event_name column; consumers
    filter by prefix."""

    schema_version: str
    """Semantic version (semver) of the event schema the producer wrote, e.g. "1.0.0" (the
    nmc.version of the writer schema). Additive change -> minor; breaking -> major (ADR-0004)."""

    tenant_id: UUID
    """Tenant that owns this event (uuid)."""

    occurred_at: datetime
    """Event time: when the fact occurred, UTC (RFC3339-UTC in the JSON form, millisecond
    precision on the wire). Also the Kafka record timestamp."""

    correlation_id: UUID
    """Ties a user/business flow, e.g. one conversation thread and its booking (uuid).
    Per-conversation ordering key together with tenant_id."""

    causation_id: UUID | None = None
    """The event_id of the event that immediately caused this event (uuid), or null."""

    payload: SubscriptionUpdatedV1Payload
    """Event-specific payload of nmc.billing.SubscriptionUpdated (schema 1.0.0)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SubscriptionUpdatedV1:
        """From a decoded Avro record or its JSON form; unknown fields are ignored."""
        return cls(
            event_id=_uuid(data["event_id"]),
            event_name=str(data["event_name"]),
            schema_version=str(data["schema_version"]),
            tenant_id=_uuid(data["tenant_id"]),
            occurred_at=_ts(data["occurred_at"]),
            correlation_id=_uuid(data["correlation_id"]),
            causation_id=_opt(_uuid, data.get("causation_id", None)),
            payload=SubscriptionUpdatedV1Payload.from_dict(data["payload"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogUpdatedV1Payload:
    """Event-specific payload of nmc.catalog.CatalogUpdated."""

    updated_item_ids: list[UUID]
    """Ids of the changed service items (uuids)."""

    full_refresh: bool
    """True when consumers must reload the whole catalog instead of only updated_item_ids."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CatalogUpdatedV1Payload:
        """From a decoded Avro record or its JSON form; unknown fields are ignored."""
        return cls(
            updated_item_ids=_list(_uuid, data["updated_item_ids"]),
            full_refresh=bool(data["full_refresh"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogUpdatedV1:
    """When: A tenant changes service items (name, price, duration, active flag); Producer:
    Catalog"""

    EVENT_NAME: ClassVar[str] = "nmc.catalog.CatalogUpdated"
    MAJOR: ClassVar[int] = 1
    SCHEMA_VERSION: ClassVar[str] = "1.0.0"
    TOPIC: ClassVar[str] = "nmc.catalog"
    RECORD: ClassVar[str] = "nmc.catalog.v1.CatalogUpdated"

    event_id: UUID
    """Unique id of this event (uuid). Delivery is at-least-once: consumers must be idempotent and
    dedupe by event_id."""

    event_name: str
    """Canonical event name, dot-separated and domain-scoped: always nmc.<domain>.<EventName>,
    here "nmc.catalog.CatalogUpdated". Stored in the outbox event_name column; consumers filter by
    prefix."""

    schema_version: str
    """Semantic version (semver) of the event schema the producer wrote, e.g. "1.0.0" (the
    nmc.version of the writer schema). Additive change -> minor; breaking -> major (ADR-0004)."""

    tenant_id: UUID
    """Tenant that owns this event (uuid)."""

    occurred_at: datetime
    """Event time: when the fact occurred, UTC (RFC3339-UTC in the JSON form, millisecond
    precision on the wire). Also the Kafka record timestamp."""

    correlation_id: UUID
    """Ties a user/business flow, e.g. one conversation thread and its booking (uuid).
    Per-conversation ordering key together with tenant_id."""

    causation_id: UUID | None = None
    """The event_id of the event that immediately caused this event (uuid), or null."""

    payload: CatalogUpdatedV1Payload
    """Event-specific payload of nmc.catalog.CatalogUpdated (schema 1.0.0)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CatalogUpdatedV1:
        """From a decoded Avro record or its JSON form; unknown fields are ignored."""
        return cls(
            event_id=_uuid(data["event_id"]),
            event_name=str(data["event_name"]),
            schema_version=str(data["schema_version"]),
            tenant_id=_uuid(data["tenant_id"]),
            occurred_at=_ts(data["occurred_at"]),
            correlation_id=_uuid(data["correlation_id"]),
            causation_id=_opt(_uuid, data.get("causation_id", None)),
            payload=CatalogUpdatedV1Payload.from_dict(data["payload"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ComplianceStatusChangedV1Payload:
    """Event-specific payload of nmc.compliance.ComplianceStatusChanged."""

    campaign_id: UUID
    """Id of the 10DLC campaign (uuid)."""

    status: str
    """New 10DLC campaign state. Closed set, encoded as a string, not an Avro enum (see
    schemas-avro/README.md); consumers must tolerate values added in a later minor version.
    Allowed values (a later minor may add more): pending, approved, rejected."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ComplianceStatusChangedV1Payload:
        """From a decoded Avro record or its JSON form; unknown fields are ignored."""
        return cls(
            campaign_id=_uuid(data["campaign_id"]),
            status=str(data["status"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ComplianceStatusChangedV1:
    """When: 10DLC campaign state changes; Producer: Compliance"""

    EVENT_NAME: ClassVar[str] = "nmc.compliance.ComplianceStatusChanged"
    MAJOR: ClassVar[int] = 1
    SCHEMA_VERSION: ClassVar[str] = "1.0.0"
    TOPIC: ClassVar[str] = "nmc.compliance"
    RECORD: ClassVar[str] = "nmc.compliance.v1.ComplianceStatusChanged"

    event_id: UUID
    """Unique id of this event (uuid). Delivery is at-least-once: consumers must be idempotent and
    dedupe by event_id."""

    event_name: str
    """Canonical event name, dot-separated and domain-scoped: always nmc.<domain>.<EventName>,
    here "nmc.compliance.ComplianceStatusChanged". Stored in the outbox event_name column;
    consumers filter by prefix."""

    schema_version: str
    """Semantic version (semver) of the event schema the producer wrote, e.g. "1.0.0" (the
    nmc.version of the writer schema). Additive change -> minor; breaking -> major (ADR-0004)."""

    tenant_id: UUID
    """Tenant that owns this event (uuid)."""

    occurred_at: datetime
    """Event time: when the fact occurred, UTC (RFC3339-UTC in the JSON form, millisecond
    precision on the wire). Also the Kafka record timestamp."""

    correlation_id: UUID
    """Ties a user/business flow, e.g. one conversation thread and its booking (uuid).
    Per-conversation ordering key together with tenant_id."""

    causation_id: UUID | None = None
    """The event_id of the event that immediately caused this event (uuid), or null."""

    payload: ComplianceStatusChangedV1Payload
    """Event-specific payload of nmc.compliance.ComplianceStatusChanged (schema 1.0.0)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ComplianceStatusChangedV1:
        """From a decoded Avro record or its JSON form; unknown fields are ignored."""
        return cls(
            event_id=_uuid(data["event_id"]),
            event_name=str(data["event_name"]),
            schema_version=str(data["schema_version"]),
            tenant_id=_uuid(data["tenant_id"]),
            occurred_at=_ts(data["occurred_at"]),
            correlation_id=_uuid(data["correlation_id"]),
            causation_id=_opt(_uuid, data.get("causation_id", None)),
            payload=ComplianceStatusChangedV1Payload.from_dict(data["payload"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationStartedV1Payload:
    """Event-specific payload of nmc.conversation.ConversationStarted."""

    conversation_id: UUID
    """Id of the created or reopened conversation (uuid)."""

    caller_phone: str
    """Caller's phone number, E.164 (PII allowed, no secrets)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConversationStartedV1Payload:
        """From a decoded Avro record or its JSON form; unknown fields are ignored."""
        return cls(
            conversation_id=_uuid(data["conversation_id"]),
            caller_phone=str(data["caller_phone"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationStartedV1:
    """When: We create or reopen an `open` conversation for a caller; Producer: Conversation"""

    EVENT_NAME: ClassVar[str] = "nmc.conversation.ConversationStarted"
    MAJOR: ClassVar[int] = 1
    SCHEMA_VERSION: ClassVar[str] = "1.0.0"
    TOPIC: ClassVar[str] = "nmc.conversation"
    RECORD: ClassVar[str] = "nmc.conversation.v1.ConversationStarted"

    event_id: UUID
    """Unique id of this event (uuid). Delivery is at-least-once: consumers must be idempotent and
    dedupe by event_id."""

    event_name: str
    """Canonical event name, dot-separated and domain-scoped: always nmc.<domain>.<EventName>,
    here "nmc.conversation.ConversationStarted". Stored in the outbox event_name column; consumers
    filter by prefix."""

    schema_version: str
    """Semantic version (semver) of the event schema the producer wrote, e.g. "1.0.0" (the
    nmc.version of the writer schema). Additive change -> minor; breaking -> major (ADR-0004)."""

    tenant_id: UUID
    """Tenant that owns this event (uuid)."""

    occurred_at: datetime
    """Event time: when the fact occurred, UTC (RFC3339-UTC in the JSON form, millisecond
    precision on the wire). Also the Kafka record timestamp."""

    correlation_id: UUID
    """Ties a user/business flow, e.g. one conversation thread and its booking (uuid).
    Per-conversation ordering key together with tenant_id."""

    causation_id: UUID | None = None
    """The event_id of the event that immediately caused this event (uuid), or null."""

    payload: ConversationStartedV1Payload
    """Event-specific payload of nmc.conversation.ConversationStarted (schema 1.0.0)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConversationStartedV1:
        """From a decoded Avro record or its JSON form; unknown fields are ignored."""
        return cls(
            event_id=_uuid(data["event_id"]),
            event_name=str(data["event_name"]),
            schema_version=str(data["schema_version"]),
            tenant_id=_uuid(data["tenant_id"]),
            occurred_at=_ts(data["occurred_at"]),
            correlation_id=_uuid(data["correlation_id"]),
            causation_id=_opt(_uuid, data.get("causation_id", None)),
            payload=ConversationStartedV1Payload.from_dict(data["payload"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryUpdatedV1Payload:
    """Event-specific payload of nmc.conversation.DeliveryUpdated."""

    message_id: UUID
    """Id of the message whose delivery state advanced (uuid)."""

    status: str
    """New delivery status. Closed set, encoded as a string, not an Avro enum (see
    schemas-avro/README.md); consumers must tolerate values added in a later minor version.
    Allowed values (a later minor may add more): sent, delivered, failed."""

    provider_ref: str
    """Provider (Twilio) message reference, e.g. SM..."""

    error_code: str | None = None
    """Provider error code when delivery failed, else null."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeliveryUpdatedV1Payload:
        """From a decoded Avro record or its JSON form; unknown fields are ignored."""
        return cls(
            message_id=_uuid(data["message_id"]),
            status=str(data["status"]),
            provider_ref=str(data["provider_ref"]),
            error_code=_opt(str, data.get("error_code", None)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryUpdatedV1:
    """When: Twilio status callback advances message delivery state; Producer: Conversation"""

    EVENT_NAME: ClassVar[str] = "nmc.conversation.DeliveryUpdated"
    MAJOR: ClassVar[int] = 1
    SCHEMA_VERSION: ClassVar[str] = "1.0.0"
    TOPIC: ClassVar[str] = "nmc.conversation"
    RECORD: ClassVar[str] = "nmc.conversation.v1.DeliveryUpdated"

    event_id: UUID
    """Unique id of this event (uuid). Delivery is at-least-once: consumers must be idempotent and
    dedupe by event_id."""

    event_name: str
    """Canonical event name, dot-separated and domain-scoped: always nmc.<domain>.<EventName>,
    here "nmc.conversation.DeliveryUpdated". Stored in the outbox event_name column; consumers
    filter by prefix."""

    schema_version: str
    """Semantic version (semver) of the event schema the producer wrote, e.g. "1.0.0" (the
    nmc.version of the writer schema). Additive change -> minor; breaking -> major (ADR-0004)."""

    tenant_id: UUID
    """Tenant that owns this event (uuid)."""

    occurred_at: datetime
    """Event time: when the fact occurred, UTC (RFC3339-UTC in the JSON form, millisecond
    precision on the wire). Also the Kafka record timestamp."""

    correlation_id: UUID
    """Ties a user/business flow, e.g. one conversation thread and its booking (uuid).
    Per-conversation ordering key together with tenant_id."""

    causation_id: UUID | None = None
    """The event_id of the event that immediately caused this event (uuid), or null."""

    payload: DeliveryUpdatedV1Payload
    """Event-specific payload of nmc.conversation.DeliveryUpdated (schema 1.0.0)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeliveryUpdatedV1:
        """From a decoded Avro record or its JSON form; unknown fields are ignored."""
        return cls(
            event_id=_uuid(data["event_id"]),
            event_name=str(data["event_name"]),
            schema_version=str(data["schema_version"]),
            tenant_id=_uuid(data["tenant_id"]),
            occurred_at=_ts(data["occurred_at"]),
            correlation_id=_uuid(data["correlation_id"]),
            causation_id=_opt(_uuid, data.get("causation_id", None)),
            payload=DeliveryUpdatedV1Payload.from_dict(data["payload"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class HumanTakeoverRequestedV1Payload:
    """Event-specific payload of nmc.conversation.HumanTakeoverRequested."""

    conversation_id: UUID
    """Id of the conversation taken over (uuid)."""

    user_id: UUID
    """Id of the user who clicked Takeover (uuid)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HumanTakeoverRequestedV1Payload:
        """From a decoded Avro record or its JSON form; unknown fields are ignored."""
        return cls(
            conversation_id=_uuid(data["conversation_id"]),
            user_id=_uuid(data["user_id"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class HumanTakeoverRequestedV1:
    """When: User clicks Takeover in UI; Producer: Conversation"""

    EVENT_NAME: ClassVar[str] = "nmc.conversation.HumanTakeoverRequested"
    MAJOR: ClassVar[int] = 1
    SCHEMA_VERSION: ClassVar[str] = "1.0.0"
    TOPIC: ClassVar[str] = "nmc.conversation"
    RECORD: ClassVar[str] = "nmc.conversation.v1.HumanTakeoverRequested"

    event_id: UUID
    """Unique id of this event (uuid). Delivery is at-least-once: consumers must be idempotent and
    dedupe by event_id."""

    event_name: str
    """Canonical event name, dot-separated and domain-scoped: always nmc.<domain>.<EventName>,
    here "nmc.conversation.HumanTakeoverRequested". Stored in the outbox event_name column;
    consumers filter by prefix."""

    schema_version: str
    """Semantic version (semver) of the event schema the producer wrote, e.g. "1.0.0" (the
    nmc.version of the writer schema). Additive change -> minor; breaking -> major (ADR-0004)."""

    tenant_id: UUID
    """Tenant that owns this event (uuid)."""

    occurred_at: datetime
    """Event time: when the fact occurred, UTC (RFC3339-UTC in the JSON form, millisecond
    precision on the wire). Also the Kafka record timestamp."""

    correlation_id: UUID
    """Ties a user/business flow, e.g. one conversation thread and its booking (uuid).
    Per-conversation ordering key together with tenant_id."""

    causation_id: UUID | None = None
    """The event_id of the event that immediately caused this event (uuid), or null."""

    payload: HumanTakeoverRequestedV1Payload
    """Event-specific payload of nmc.conversation.HumanTakeoverRequested (schema 1.0.0)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HumanTakeoverRequestedV1:
        """From a decoded Avro record or its JSON form; unknown fields are ignored."""
        return cls(
            event_id=_uuid(data["event_id"]),
            event_name=str(data["event_name"]),
            schema_version=str(data["schema_version"]),
            tenant_id=_uuid(data["tenant_id"]),
            occurred_at=_ts(data["occurred_at"]),
            correlation_id=_uuid(data["correlation_id"]),
            causation_id=_opt(_uuid, data.get("causation_id", None)),
            payload=HumanTakeoverRequestedV1Payload.from_dict(data["payload"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageSentV1Payload:
    """Event-specific payload of nmc.conversation.MessageSent."""

    message_id: UUID
    """Id of the message (uuid)."""

    conversation_id: UUID
    """Id of the conversation the message belongs to (uuid)."""

    direction: str
    """Message direction: in (inbound arrival) or out (outbound SMS). Closed set, encoded as a
    string, not an Avro enum (see schemas-avro/README.md); consumers must tolerate values added in
    a later minor version. Allowed values (a later minor may add more): in, out."""

    status: str
    """Delivery status of the message at this point. Closed set, encoded as a string, not an Avro
    enum (see schemas-avro/README.md); consumers must tolerate values added in a later minor
    version. Allowed values (a later minor may add more): queued, sent, delivered, failed."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MessageSentV1Payload:
        """From a decoded Avro record or its JSON form; unknown fields are ignored."""
        return cls(
            message_id=_uuid(data["message_id"]),
            conversation_id=_uuid(data["conversation_id"]),
            direction=str(data["direction"]),
            status=str(data["status"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageSentV1:
    """When: We enqueue an outbound SMS (or record an inbound arrival); Producer: Conversation"""

    EVENT_NAME: ClassVar[str] = "nmc.conversation.MessageSent"
    MAJOR: ClassVar[int] = 1
    SCHEMA_VERSION: ClassVar[str] = "1.0.0"
    TOPIC: ClassVar[str] = "nmc.conversation"
    RECORD: ClassVar[str] = "nmc.conversation.v1.MessageSent"

    event_id: UUID
    """Unique id of this event (uuid). Delivery is at-least-once: consumers must be idempotent and
    dedupe by event_id."""

    event_name: str
    """Canonical event name, dot-separated and domain-scoped: always nmc.<domain>.<EventName>,
    here "nmc.conversation.MessageSent". Stored in the outbox event_name column; consumers filter
    by prefix."""

    schema_version: str
    """Semantic version (semver) of the event schema the producer wrote, e.g. "1.0.0" (the
    nmc.version of the writer schema). Additive change -> minor; breaking -> major (ADR-0004)."""

    tenant_id: UUID
    """Tenant that owns this event (uuid)."""

    occurred_at: datetime
    """Event time: when the fact occurred, UTC (RFC3339-UTC in the JSON form, millisecond
    precision on the wire). Also the Kafka record timestamp."""

    correlation_id: UUID
    """Ties a user/business flow, e.g. one conversation thread and its booking (uuid).
    Per-conversation ordering key together with tenant_id."""

    causation_id: UUID | None = None
    """The event_id of the event that immediately caused this event (uuid), or null."""

    payload: MessageSentV1Payload
    """Event-specific payload of nmc.conversation.MessageSent (schema 1.0.0)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MessageSentV1:
        """From a decoded Avro record or its JSON form; unknown fields are ignored."""
        return cls(
            event_id=_uuid(data["event_id"]),
            event_name=str(data["event_name"]),
            schema_version=str(data["schema_version"]),
            tenant_id=_uuid(data["tenant_id"]),
            occurred_at=_ts(data["occurred_at"]),
            correlation_id=_uuid(data["correlation_id"]),
            causation_id=_opt(_uuid, data.get("causation_id", None)),
            payload=MessageSentV1Payload.from_dict(data["payload"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AppointmentBookedV1Payload:
    """Event-specific payload of nmc.scheduling.AppointmentBooked."""

    appointment_id: UUID
    """Id of the confirmed appointment (uuid)."""

    resource_id: UUID
    """Id of the booked resource (uuid)."""

    start: datetime
    """Start of the appointment, UTC (RFC3339 in JSON)."""

    end: datetime
    """End of the appointment, UTC (RFC3339 in JSON)."""

    service_item_id: UUID
    """Id of the booked service item (uuid)."""

    customer_phone: str
    """Customer's phone number, E.164 (PII allowed, no secrets)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AppointmentBookedV1Payload:
        """From a decoded Avro record or its JSON form; unknown fields are ignored."""
        return cls(
            appointment_id=_uuid(data["appointment_id"]),
            resource_id=_uuid(data["resource_id"]),
            start=_ts(data["start"]),
            end=_ts(data["end"]),
            service_item_id=_uuid(data["service_item_id"]),
            customer_phone=str(data["customer_phone"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AppointmentBookedV1:
    """When: A hold is converted into a confirmed appointment; Producer: Scheduling"""

    EVENT_NAME: ClassVar[str] = "nmc.scheduling.AppointmentBooked"
    MAJOR: ClassVar[int] = 1
    SCHEMA_VERSION: ClassVar[str] = "1.0.0"
    TOPIC: ClassVar[str] = "nmc.scheduling"
    RECORD: ClassVar[str] = "nmc.scheduling.v1.AppointmentBooked"

    event_id: UUID
    """Unique id of this event (uuid). Delivery is at-least-once: consumers must be idempotent and
    dedupe by event_id."""

    event_name: str
    """Canonical event name, dot-separated and domain-scoped: always nmc.<domain>.<EventName>,
    here "nmc.scheduling.AppointmentBooked". Stored in the outbox event_name column; consumers
    filter by prefix."""

    schema_version: str
    """Semantic version (semver) of the event schema the producer wrote, e.g. "1.0.0" (the
    nmc.version of the writer schema). Additive change -> minor; breaking -> major (ADR-0004)."""

    tenant_id: UUID
    """Tenant that owns this event (uuid)."""

    occurred_at: datetime
    """Event time: when the fact occurred, UTC (RFC3339-UTC in the JSON form, millisecond
    precision on the wire). Also the Kafka record timestamp."""

    correlation_id: UUID
    """Ties a user/business flow, e.g. one conversation thread and its booking (uuid).
    Per-conversation ordering key together with tenant_id."""

    causation_id: UUID | None = None
    """The event_id of the event that immediately caused this event (uuid), or null."""

    payload: AppointmentBookedV1Payload
    """Event-specific payload of nmc.scheduling.AppointmentBooked (schema 1.0.0)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AppointmentBookedV1:
        """From a decoded Avro record or its JSON form; unknown fields are ignored."""
        return cls(
            event_id=_uuid(data["event_id"]),
            event_name=str(data["event_name"]),
            schema_version=str(data["schema_version"]),
            tenant_id=_uuid(data["tenant_id"]),
            occurred_at=_ts(data["occurred_at"]),
            correlation_id=_uuid(data["correlation_id"]),
            causation_id=_opt(_uuid, data.get("causation_id", None)),
            payload=AppointmentBookedV1Payload.from_dict(data["payload"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AppointmentCancelledV1Payload:
    """Event-specific payload of nmc.scheduling.AppointmentCancelled."""

    appointment_id: UUID
    """Id of the canceled appointment (uuid)."""

    resource_id: UUID
    """Id of the resource freed (uuid)."""

    start: datetime
    """Start of the canceled appointment, UTC (RFC3339 in JSON)."""

    end: datetime
    """End of the canceled appointment, UTC (RFC3339 in JSON)."""

    cancelled_reason: str
    """Who or what canceled the appointment. Closed set, encoded as a string, not an Avro enum
    (see schemas-avro/README.md); consumers must tolerate values added in a later minor version.
    Allowed values (a later minor may add more): user, tenant, system, conflict."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AppointmentCancelledV1Payload:
        """From a decoded Avro record or its JSON form; unknown fields are ignored."""
        return cls(
            appointment_id=_uuid(data["appointment_id"]),
            resource_id=_uuid(data["resource_id"]),
            start=_ts(data["start"]),
            end=_ts(data["end"]),
            cancelled_reason=str(data["cancelled_reason"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AppointmentCancelledV1:
    """When: A confirmed appointment is canceled; Producer: Scheduling"""

    EVENT_NAME: ClassVar[str] = "nmc.scheduling.AppointmentCancelled"
    MAJOR: ClassVar[int] = 1
    SCHEMA_VERSION: ClassVar[str] = "1.0.0"
    TOPIC: ClassVar[str] = "nmc.scheduling"
    RECORD: ClassVar[str] = "nmc.scheduling.v1.AppointmentCancelled"

    event_id: UUID
    """Unique id of this event (uuid). Delivery is at-least-once: consumers must be idempotent and
    dedupe by event_id."""

    event_name: str
    """Canonical event name, dot-separated and domain-scoped: always nmc.<domain>.<EventName>,
    here "nmc.scheduling.AppointmentCancelled". Stored in the outbox event_name column; consumers
    filter by prefix."""

    schema_version: str
    """Semantic version (semver) of the event schema the producer wrote, e.g. "1.0.0" (the
    nmc.version of the writer schema). Additive change -> minor; breaking -> major (ADR-0004)."""

    tenant_id: UUID
    """Tenant that owns this event (uuid)."""

    occurred_at: datetime
    """Event time: when the fact occurred, UTC (RFC3339-UTC in the JSON form, millisecond
    precision on the wire). Also the Kafka record timestamp."""

    correlation_id: UUID
    """Ties a user/business flow, e.g. one conversation thread and its booking (uuid).
    Per-conversation ordering key together with tenant_id."""

    causation_id: UUID | None = None
    """The event_id of the event that immediately caused this event (uuid), or null."""

    payload: AppointmentCancelledV1Payload
    """Event-specific payload of nmc.scheduling.AppointmentCancelled (schema 1.0.0)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AppointmentCancelledV1:
        """From a decoded Avro record or its JSON form; unknown fields are ignored."""
        return cls(
            event_id=_uuid(data["event_id"]),
            event_name=str(data["event_name"]),
            schema_version=str(data["schema_version"]),
            tenant_id=_uuid(data["tenant_id"]),
            occurred_at=_ts(data["occurred_at"]),
            correlation_id=_uuid(data["correlation_id"]),
            causation_id=_opt(_uuid, data.get("causation_id", None)),
            payload=AppointmentCancelledV1Payload.from_dict(data["payload"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AppointmentHeldV1Payload:
    """Event-specific payload of nmc.scheduling.AppointmentHeld."""

    hold_id: UUID
    """Id of the temporary reservation (uuid)."""

    resource_id: UUID
    """Id of the reserved resource (uuid)."""

    start: datetime
    """Start of the held slot, UTC (RFC3339 in JSON)."""

    end: datetime
    """End of the held slot, UTC (RFC3339 in JSON)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AppointmentHeldV1Payload:
        """From a decoded Avro record or its JSON form; unknown fields are ignored."""
        return cls(
            hold_id=_uuid(data["hold_id"]),
            resource_id=_uuid(data["resource_id"]),
            start=_ts(data["start"]),
            end=_ts(data["end"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AppointmentHeldV1:
    """When: A temporary reservation is created; Producer: Scheduling"""

    EVENT_NAME: ClassVar[str] = "nmc.scheduling.AppointmentHeld"
    MAJOR: ClassVar[int] = 1
    SCHEMA_VERSION: ClassVar[str] = "1.0.0"
    TOPIC: ClassVar[str] = "nmc.scheduling"
    RECORD: ClassVar[str] = "nmc.scheduling.v1.AppointmentHeld"

    event_id: UUID
    """Unique id of this event (uuid). Delivery is at-least-once: consumers must be idempotent and
    dedupe by event_id."""

    event_name: str
    """Canonical event name, dot-separated and domain-scoped: always nmc.<domain>.<EventName>,
    here "nmc.scheduling.AppointmentHeld". Stored in the outbox event_name column; consumers
    filter by prefix."""

    schema_version: str
    """Semantic version (semver) of the event schema the producer wrote, e.g. "1.0.0" (the
    nmc.version of the writer schema). Additive change -> minor; breaking -> major (ADR-0004)."""

    tenant_id: UUID
    """Tenant that owns this event (uuid)."""

    occurred_at: datetime
    """Event time: when the fact occurred, UTC (RFC3339-UTC in the JSON form, millisecond
    precision on the wire). Also the Kafka record timestamp."""

    correlation_id: UUID
    """Ties a user/business flow, e.g. one conversation thread and its booking (uuid).
    Per-conversation ordering key together with tenant_id."""

    causation_id: UUID | None = None
    """The event_id of the event that immediately caused this event (uuid), or null."""

    payload: AppointmentHeldV1Payload
    """Event-specific payload of nmc.scheduling.AppointmentHeld (schema 1.0.0)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AppointmentHeldV1:
        """From a decoded Avro record or its JSON form; unknown fields are ignored."""
        return cls(
            event_id=_uuid(data["event_id"]),
            event_name=str(data["event_name"]),
            schema_version=str(data["schema_version"]),
            tenant_id=_uuid(data["tenant_id"]),
            occurred_at=_ts(data["occurred_at"]),
            correlation_id=_uuid(data["correlation_id"]),
            causation_id=_opt(_uuid, data.get("causation_id", None)),
            payload=AppointmentHeldV1Payload.from_dict(data["payload"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AppointmentReleasedV1Payload:
    """Event-specific payload of nmc.scheduling.AppointmentReleased."""

    hold_id: UUID
    """Id of the released reservation (uuid)."""

    resource_id: UUID
    """Id of the resource freed (uuid)."""

    start: datetime
    """Start of the released slot, UTC (RFC3339 in JSON)."""

    end: datetime
    """End of the released slot, UTC (RFC3339 in JSON)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AppointmentReleasedV1Payload:
        """From a decoded Avro record or its JSON form; unknown fields are ignored."""
        return cls(
            hold_id=_uuid(data["hold_id"]),
            resource_id=_uuid(data["resource_id"]),
            start=_ts(data["start"]),
            end=_ts(data["end"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AppointmentReleasedV1:
    """When: A hold expires or is explicitly released; Producer: Scheduling"""

    EVENT_NAME: ClassVar[str] = "nmc.scheduling.AppointmentReleased"
    MAJOR: ClassVar[int] = 1
    SCHEMA_VERSION: ClassVar[str] = "1.0.0"
    TOPIC: ClassVar[str] = "nmc.scheduling"
    RECORD: ClassVar[str] = "nmc.scheduling.v1.AppointmentReleased"

    event_id: UUID
    """Unique id of this event (uuid). Delivery is at-least-once: consumers must be idempotent and
    dedupe by event_id."""

    event_name: str
    """Canonical event name, dot-separated and domain-scoped: always nmc.<domain>.<EventName>,
    here "nmc.scheduling.AppointmentReleased". Stored in the outbox event_name column; consumers
    filter by prefix."""

    schema_version: str
    """Semantic version (semver) of the event schema the producer wrote, e.g. "1.0.0" (the
    nmc.version of the writer schema). Additive change -> minor; breaking -> major (ADR-0004)."""

    tenant_id: UUID
    """Tenant that owns this event (uuid)."""

    occurred_at: datetime
    """Event time: when the fact occurred, UTC (RFC3339-UTC in the JSON form, millisecond
    precision on the wire). Also the Kafka record timestamp."""

    correlation_id: UUID
    """Ties a user/business flow, e.g. one conversation thread and its booking (uuid).
    Per-conversation ordering key together with tenant_id."""

    causation_id: UUID | None = None
    """The event_id of the event that immediately caused this event (uuid), or null."""

    payload: AppointmentReleasedV1Payload
    """Event-specific payload of nmc.scheduling.AppointmentReleased (schema 1.0.0)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AppointmentReleasedV1:
        """From a decoded Avro record or its JSON form; unknown fields are ignored."""
        return cls(
            event_id=_uuid(data["event_id"]),
            event_name=str(data["event_name"]),
            schema_version=str(data["schema_version"]),
            tenant_id=_uuid(data["tenant_id"]),
            occurred_at=_ts(data["occurred_at"]),
            correlation_id=_uuid(data["correlation_id"]),
            causation_id=_opt(_uuid, data.get("causation_id", None)),
            payload=AppointmentReleasedV1Payload.from_dict(data["payload"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CallDetectedV1Payload:
    """Event-specific payload of nmc.telephony.CallDetected."""

    call_id: UUID
    """Id of the detected inbound call (uuid)."""

    from_phone: str
    """Caller's phone number, E.164 (PII allowed, no secrets)."""

    to_phone: str
    """Tenant's called phone number, E.164."""

    reason: str
    """Why the call counts as missed. Closed set, encoded as a string, not an Avro enum (see
    schemas-avro/README.md); consumers must tolerate values added in a later minor version.
    Allowed values (a later minor may add more): no-answer, busy, failed."""

    provider_ref: str
    """Provider (Twilio) call reference, e.g. CA..."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CallDetectedV1Payload:
        """From a decoded Avro record or its JSON form; unknown fields are ignored."""
        return cls(
            call_id=_uuid(data["call_id"]),
            from_phone=str(data["from_phone"]),
            to_phone=str(data["to_phone"]),
            reason=str(data["reason"]),
            provider_ref=str(data["provider_ref"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CallDetectedV1:
    """When: We detect a missed/failed/busy inbound call worthy of SMS follow-up; Producer:
    Telephony Ingestion"""

    EVENT_NAME: ClassVar[str] = "nmc.telephony.CallDetected"
    MAJOR: ClassVar[int] = 1
    SCHEMA_VERSION: ClassVar[str] = "1.0.0"
    TOPIC: ClassVar[str] = "nmc.telephony"
    RECORD: ClassVar[str] = "nmc.telephony.v1.CallDetected"

    event_id: UUID
    """Unique id of this event (uuid). Delivery is at-least-once: consumers must be idempotent and
    dedupe by event_id."""

    event_name: str
    """Canonical event name, dot-separated and domain-scoped: always nmc.<domain>.<EventName>,
    here "nmc.telephony.CallDetected". Stored in the outbox event_name column; consumers filter by
    prefix."""

    schema_version: str
    """Semantic version (semver) of the event schema the producer wrote, e.g. "1.0.0" (the
    nmc.version of the writer schema). Additive change -> minor; breaking -> major (ADR-0004)."""

    tenant_id: UUID
    """Tenant that owns this event (uuid)."""

    occurred_at: datetime
    """Event time: when the fact occurred, UTC (RFC3339-UTC in the JSON form, millisecond
    precision on the wire). Also the Kafka record timestamp."""

    correlation_id: UUID
    """Ties a user/business flow, e.g. one conversation thread and its booking (uuid).
    Per-conversation ordering key together with tenant_id."""

    causation_id: UUID | None = None
    """The event_id of the event that immediately caused this event (uuid), or null."""

    payload: CallDetectedV1Payload
    """Event-specific payload of nmc.telephony.CallDetected (schema 1.0.0)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CallDetectedV1:
        """From a decoded Avro record or its JSON form; unknown fields are ignored."""
        return cls(
            event_id=_uuid(data["event_id"]),
            event_name=str(data["event_name"]),
            schema_version=str(data["schema_version"]),
            tenant_id=_uuid(data["tenant_id"]),
            occurred_at=_ts(data["occurred_at"]),
            correlation_id=_uuid(data["correlation_id"]),
            causation_id=_opt(_uuid, data.get("causation_id", None)),
            payload=CallDetectedV1Payload.from_dict(data["payload"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundSmsReceivedV1Payload:
    """Event-specific payload of nmc.telephony.InboundSmsReceived."""

    message_id: UUID
    """Id of the inbound message (uuid)."""

    from_phone: str
    """Sender's phone number, E.164 (PII allowed, no secrets)."""

    to_phone: str
    """Tenant's receiving phone number, E.164."""

    body: str
    """Text of the inbound SMS as received."""

    provider_ref: str
    """Provider (Twilio) message reference, e.g. SM..."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InboundSmsReceivedV1Payload:
        """From a decoded Avro record or its JSON form; unknown fields are ignored."""
        return cls(
            message_id=_uuid(data["message_id"]),
            from_phone=str(data["from_phone"]),
            to_phone=str(data["to_phone"]),
            body=str(data["body"]),
            provider_ref=str(data["provider_ref"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundSmsReceivedV1:
    """When: Twilio posts inbound SMS; Producer: Telephony Ingestion"""

    EVENT_NAME: ClassVar[str] = "nmc.telephony.InboundSmsReceived"
    MAJOR: ClassVar[int] = 1
    SCHEMA_VERSION: ClassVar[str] = "1.0.0"
    TOPIC: ClassVar[str] = "nmc.telephony"
    RECORD: ClassVar[str] = "nmc.telephony.v1.InboundSmsReceived"

    event_id: UUID
    """Unique id of this event (uuid). Delivery is at-least-once: consumers must be idempotent and
    dedupe by event_id."""

    event_name: str
    """Canonical event name, dot-separated and domain-scoped: always nmc.<domain>.<EventName>,
    here "nmc.telephony.InboundSmsReceived". Stored in the outbox event_name column; consumers
    filter by prefix."""

    schema_version: str
    """Semantic version (semver) of the event schema the producer wrote, e.g. "1.0.0" (the
    nmc.version of the writer schema). Additive change -> minor; breaking -> major (ADR-0004)."""

    tenant_id: UUID
    """Tenant that owns this event (uuid)."""

    occurred_at: datetime
    """Event time: when the fact occurred, UTC (RFC3339-UTC in the JSON form, millisecond
    precision on the wire). Also the Kafka record timestamp."""

    correlation_id: UUID
    """Ties a user/business flow, e.g. one conversation thread and its booking (uuid).
    Per-conversation ordering key together with tenant_id."""

    causation_id: UUID | None = None
    """The event_id of the event that immediately caused this event (uuid), or null."""

    payload: InboundSmsReceivedV1Payload
    """Event-specific payload of nmc.telephony.InboundSmsReceived (schema 1.0.0)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InboundSmsReceivedV1:
        """From a decoded Avro record or its JSON form; unknown fields are ignored."""
        return cls(
            event_id=_uuid(data["event_id"]),
            event_name=str(data["event_name"]),
            schema_version=str(data["schema_version"]),
            tenant_id=_uuid(data["tenant_id"]),
            occurred_at=_ts(data["occurred_at"]),
            correlation_id=_uuid(data["correlation_id"]),
            causation_id=_opt(_uuid, data.get("causation_id", None)),
            payload=InboundSmsReceivedV1Payload.from_dict(data["payload"]),
        )



Event = (
    SubscriptionUpdatedV1
    | CatalogUpdatedV1
    | ComplianceStatusChangedV1
    | ConversationStartedV1
    | DeliveryUpdatedV1
    | HumanTakeoverRequestedV1
    | MessageSentV1
    | AppointmentBookedV1
    | AppointmentCancelledV1
    | AppointmentHeldV1
    | AppointmentReleasedV1
    | CallDetectedV1
    | InboundSmsReceivedV1
)
"""Any event model."""

MODELS: dict[tuple[str, int], type[Event]] = {
    ("nmc.billing.SubscriptionUpdated", 1): SubscriptionUpdatedV1,
    ("nmc.catalog.CatalogUpdated", 1): CatalogUpdatedV1,
    ("nmc.compliance.ComplianceStatusChanged", 1): ComplianceStatusChangedV1,
    ("nmc.conversation.ConversationStarted", 1): ConversationStartedV1,
    ("nmc.conversation.DeliveryUpdated", 1): DeliveryUpdatedV1,
    ("nmc.conversation.HumanTakeoverRequested", 1): HumanTakeoverRequestedV1,
    ("nmc.conversation.MessageSent", 1): MessageSentV1,
    ("nmc.scheduling.AppointmentBooked", 1): AppointmentBookedV1,
    ("nmc.scheduling.AppointmentCancelled", 1): AppointmentCancelledV1,
    ("nmc.scheduling.AppointmentHeld", 1): AppointmentHeldV1,
    ("nmc.scheduling.AppointmentReleased", 1): AppointmentReleasedV1,
    ("nmc.telephony.CallDetected", 1): CallDetectedV1,
    ("nmc.telephony.InboundSmsReceived", 1): InboundSmsReceivedV1,
}
"""Model class by (event_name, major)."""


def from_dict(data: Mapping[str, Any]) -> Event:
    """The model of a decoded value, by its `event_name` and the major of `schema_version`.

    Raises KeyError for an event or major this version of the package does not know: count and
    skip it (a new major is announced in docs/consumers/CHANGES.md).
    """
    major = int(str(data["schema_version"]).split(".", 1)[0])
    return MODELS[(str(data["event_name"]), major)].from_dict(data)
