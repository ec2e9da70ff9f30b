"""The canonical event envelope (catalog §0), validated against `schemas-avro/`.

`parse_event` is the one gate every fact passes before it reaches the outbox: envelope fields
by the catalog's rules, the payload by the event's Avro schema. Errors name the field and the
reason, all of them at once, so a caller fixes its input in one round.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from nmc.contract.errors import FieldError, InvalidEvent
from nmc.contract.keys import record_key
from nmc.contract.payload import (
    format_rfc3339_utc,
    parse_rfc3339_utc,
    parse_uuid,
    to_avro_record,
    validate_record,
)
from nmc.contract.schemas import (
    DOMAINS,
    EventSchema,
    SchemaCatalog,
    default_catalog,
    parse_semver,
    topic_for,
)

__all__ = ["Envelope", "InvalidEvent", "known_event", "new_event", "parse_event"]

_EVENT_NAME_RE = re.compile(r"^nmc\.(?P<domain>[a-z]+)\.(?P<event>[A-Z][A-Za-z0-9]*)$")


class Envelope(BaseModel):
    """An immutable, validated domain event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    event_name: str
    schema_version: str
    tenant_id: UUID
    occurred_at: datetime
    correlation_id: UUID
    causation_id: UUID | None = None
    payload: dict[str, Any]

    @field_validator("event_id", "tenant_id", "correlation_id", mode="before")
    @classmethod
    def _uuid(cls, value: object) -> UUID:
        return parse_uuid(value)

    @field_validator("causation_id", mode="before")
    @classmethod
    def _optional_uuid(cls, value: object) -> UUID | None:
        return None if value is None else parse_uuid(value)

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _utc(cls, value: object) -> datetime:
        return parse_rfc3339_utc(value)

    @field_validator("event_name")
    @classmethod
    def _event_name(cls, value: str) -> str:
        match = _EVENT_NAME_RE.match(value)
        if match is None:
            raise ValueError(f"must look like nmc.<domain>.<EventName>, got {value!r}")
        if match["domain"] not in DOMAINS:
            raise ValueError(f"unknown domain {match['domain']!r} (known: {', '.join(DOMAINS)})")
        return value

    @field_validator("schema_version")
    @classmethod
    def _semver(cls, value: str) -> str:
        parse_semver(value)
        return value

    @property
    def domain(self) -> str:
        return self.event_name.split(".")[1]

    @property
    def topic(self) -> str:
        return topic_for(self.domain)

    @property
    def key(self) -> str:
        return record_key(self.tenant_id, self.correlation_id)

    @property
    def major(self) -> int:
        return parse_semver(self.schema_version)[0]

    def to_json(self) -> dict[str, Any]:
        """The catalog's JSON form (what the outbox stores and what §10 prints)."""
        return {
            "event_id": str(self.event_id),
            "event_name": self.event_name,
            "schema_version": self.schema_version,
            "tenant_id": str(self.tenant_id),
            "occurred_at": format_rfc3339_utc(self.occurred_at),
            "correlation_id": str(self.correlation_id),
            "causation_id": None if self.causation_id is None else str(self.causation_id),
            "payload": self.payload,
        }

    def to_avro(self, schema: EventSchema) -> dict[str, Any]:
        """The record fastavro writes for this event's schema."""
        record = self.to_json()
        payload_type = next(f for f in schema.raw["fields"] if f["name"] == "payload")["type"]
        record["payload"] = to_avro_record(payload_type["fields"], self.payload)
        record["occurred_at"] = self.occurred_at
        return record


def _pydantic_errors(exc: ValidationError) -> list[FieldError]:
    errors = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "envelope"
        reason = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            reason = "unknown envelope field"
        errors.append(FieldError(loc, reason))
    return errors


def resolve_schema(envelope: Envelope, catalog: SchemaCatalog) -> EventSchema:
    """The schema an envelope is written with, or `InvalidEvent` saying why there is none:
    `schema_version` must be exactly the `nmc.version` of the catalog's file for its major."""
    if envelope.event_name not in catalog.event_names:
        raise InvalidEvent([FieldError("event_name", f"unknown event {envelope.event_name!r}")])
    schema = catalog.get(envelope.event_name, envelope.major)
    if schema is None:
        majors = catalog.majors(envelope.event_name)
        raise InvalidEvent(
            [FieldError("schema_version", f"no major version {envelope.major} (known: {majors})")]
        )
    if envelope.schema_version != schema.version:
        # A producer writes the version of its own files: an older minor validated against
        # newer files would carry the newer fields under the older label, and no schema of
        # the label could encode it without dropping them.
        relation = (
            "newer than" if parse_semver(envelope.schema_version) > parse_semver(schema.version)
            else "not"
        )
        raise InvalidEvent([FieldError(
            "schema_version",
            f"{envelope.schema_version} is {relation} the schema ({schema.version}) this "
            f"producer has for subject {schema.subject}; it writes {schema.version} only",
        )])
    return schema


def parse_event(data: Mapping[str, Any], catalog: SchemaCatalog | None = None) -> Envelope:
    """Validate a JSON envelope completely; raises `InvalidEvent` listing every problem."""
    catalog = catalog or default_catalog()
    if not isinstance(data, Mapping):
        raise InvalidEvent([FieldError("envelope", "expected a JSON object")])
    try:
        envelope = Envelope.model_validate(dict(data))
    except ValidationError as exc:
        raise InvalidEvent(_pydantic_errors(exc)) from None
    schema = resolve_schema(envelope, catalog)
    payload_type = next(f for f in schema.raw["fields"] if f["name"] == "payload")["type"]
    normal, errors = validate_record(payload_type["fields"], envelope.payload)
    if errors:
        raise InvalidEvent(errors)
    return envelope.model_copy(update={"payload": normal})


def new_event(
    event_name: str,
    *,
    tenant_id: UUID | str,
    correlation_id: UUID | str,
    payload: Mapping[str, Any],
    causation_id: UUID | str | None = None,
    occurred_at: datetime | None = None,
    event_id: UUID | str | None = None,
    catalog: SchemaCatalog | None = None,
) -> Envelope:
    """Build and validate an event at the current schema version of its latest major."""
    catalog = catalog or default_catalog()
    try:
        version = catalog.latest(event_name).version
    except KeyError:
        raise InvalidEvent([FieldError("event_name", f"unknown event {event_name!r}")]) from None
    return parse_event(
        {
            # UUIDs pass as they are (the validator accepts them); strings are checked
            "event_id": event_id or uuid.uuid4(),
            "event_name": event_name,
            "schema_version": version,
            "tenant_id": tenant_id,
            "occurred_at": format_rfc3339_utc(occurred_at or datetime.now(UTC)),
            "correlation_id": correlation_id,
            "causation_id": causation_id,
            "payload": dict(payload),
        },
        catalog,
    )


def known_event(
    event_name: str,
    *,
    event_id: UUID,
    tenant_id: UUID,
    correlation_id: UUID,
    occurred_at: datetime,
    payload: Mapping[str, Any],
    causation_id: UUID | None = None,
    catalog: SchemaCatalog | None = None,
) -> Envelope:
    """`new_event` for envelope fields a producer holds typed already (UUIDs, an aware
    datetime): the same event, and the payload is validated against its schema exactly as
    `parse_event` does, but the typed fields are only type-checked, not parsed again from
    text. The reactor builds thousands a second; re-parsing its own UUIDs cost more than
    its database writes."""
    catalog = catalog or default_catalog()
    try:
        schema = catalog.latest(event_name)
    except KeyError:
        raise InvalidEvent([FieldError("event_name", f"unknown event {event_name!r}")]) from None
    ids = {"event_id": event_id, "tenant_id": tenant_id, "correlation_id": correlation_id}
    errors = [FieldError(k, "expected a UUID") for k, v in ids.items() if type(v) is not UUID]
    if causation_id is not None and type(causation_id) is not UUID:
        errors.append(FieldError("causation_id", "expected a UUID"))
    if occurred_at.tzinfo is None or occurred_at.utcoffset() != UTC.utcoffset(None):
        errors.append(FieldError("occurred_at", "datetime must be timezone-aware UTC"))
    normal, payload_errors = validate_record(schema.payload_fields, payload)
    errors += payload_errors
    if errors:
        raise InvalidEvent(errors)
    # Millisecond precision, as the RFC3339 text `new_event` goes through carries it.
    millis = occurred_at.astimezone(UTC).replace(
        microsecond=occurred_at.microsecond // 1000 * 1000)
    return Envelope.model_construct(
        event_id=event_id, event_name=event_name, schema_version=schema.version,
        tenant_id=tenant_id, occurred_at=millis, correlation_id=correlation_id,
        causation_id=causation_id, payload=normal)
