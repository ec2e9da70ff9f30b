"""The Confluent wire format of an event's value, and one fastavro encoder per schema.

Both the outbox writer (which stores the framed value beside the row) and the relay (which
encodes rows stored without one) use this one implementation, so the two can never disagree
on a byte; the shared decoder (nmc/infra/avro_decoder.py) reads the frame with
`require_schema_id`, so producers and consumers share one set of constants and errors.
``tests/unit/test_relay_encoding.py`` checks the encoder against confluent-kafka's
``AvroSerializer``.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping, Sequence
from io import BytesIO
from typing import Any, Protocol

from fastavro import parse_schema, schemaless_writer

from nmc.contract.facts import PoisonEvent
from nmc.contract.payload import to_avro_record, unknown_fields
from nmc.contract.schemas import EventSchema

MAGIC_BYTE = 0
FRAME_HEADER_SIZE = 5  # magic byte + 4-byte schema id
_FRAME_HEADER = struct.Struct(">bI")


class AvroFields(Protocol):
    """What an encoder reads from a row: ids as canonical text, event time in epoch ms and
    the payload as the JSON the writer validated."""

    @property
    def event_id(self) -> str: ...
    @property
    def event_name(self) -> str: ...
    @property
    def schema_version(self) -> str: ...
    @property
    def tenant_id(self) -> str: ...
    @property
    def correlation_id(self) -> str: ...
    @property
    def causation_id(self) -> str | None: ...
    @property
    def occurred_ms(self) -> int: ...
    @property
    def payload(self) -> Any: ...


def confluent_frame(schema_id: int, avro_binary: bytes) -> bytes:
    """The Confluent wire format of one value.

    Byte 0 is the magic byte ``0``; bytes 1-4 are the registry's schema id as an unsigned
    32-bit big-endian integer; the rest is the Avro binary encoding of the record (no container,
    no schema). Every Confluent-compatible client (Java, Go, librdkafka, confluent-kafka-python)
    reads this; Apicurio's own 8-byte-id SerDes would not (DESIGN.md §6).
    """
    if not 0 <= schema_id <= 0xFFFFFFFF:
        raise ValueError(f"schema id {schema_id} does not fit in 4 bytes")
    return _FRAME_HEADER.pack(MAGIC_BYTE, schema_id) + avro_binary


class UnframedValue(PoisonEvent):
    """The bytes are not a value in the Confluent wire format (a consumer dead-letters it)."""


def require_schema_id(value: bytes) -> int:
    """The schema id of a Confluent-framed value (pure); `UnframedValue` saying why not."""
    if len(value) < FRAME_HEADER_SIZE:
        raise UnframedValue(f"value of {len(value)} bytes is shorter than the Confluent frame")
    if value[0] != MAGIC_BYTE:
        raise UnframedValue(f"unknown magic byte {value[0]} (the Confluent wire format has 0)")
    return int.from_bytes(value[1:FRAME_HEADER_SIZE], "big")


def frame_schema_id(value: bytes) -> int | None:
    """The schema id of a Confluent-framed value (pure); None when it is not one."""
    if len(value) < FRAME_HEADER_SIZE or value[0] != MAGIC_BYTE:
        return None
    return int.from_bytes(value[1:FRAME_HEADER_SIZE], "big")


def _json_is_avro(avro_type: Any) -> bool:
    """True when `to_avro_value` returns a JSON value of this type unchanged (pure)."""
    if isinstance(avro_type, list):
        return all(_json_is_avro(t) for t in avro_type)
    if isinstance(avro_type, dict):
        if avro_type.get("logicalType") in ("timestamp-millis", "timestamp-micros"):
            return False
        return avro_type.get("type") not in ("record", "array")
    return True


def _non_null_type(avro_type: Any) -> Any:
    if isinstance(avro_type, list):
        branches = [t for t in avro_type if t != "null"]
        return branches[0] if len(branches) == 1 else avro_type
    return avro_type


class SchemaEncoder:
    """One event schema, parsed once, with its registry id: encodes rows to framed values."""

    def __init__(self, schema: EventSchema, schema_id: int) -> None:
        self.schema = schema
        self.schema_id = schema_id
        self._parsed = parse_schema(json.loads(schema.schema_str))
        self.frame_header = confluent_frame(schema_id, b"")  # the same for every row
        self._payload_fields: Sequence[Mapping[str, Any]] = list(schema.payload_fields)
        # When no payload field needs converting (timestamps, nested records), the JSON the
        # writer validated is already what fastavro writes: skip the per-row copy.
        self._payload_is_json = all(_json_is_avro(f["type"]) for f in self._payload_fields)
        self._payload_names = frozenset(f["name"] for f in self._payload_fields)
        self._nested = any(isinstance(_non_null_type(f["type"]), dict)
                           and _non_null_type(f["type"]).get("type") == "record"
                           for f in self._payload_fields)

    def record(self, row: AvroFields) -> dict[str, Any]:
        """The Avro record of a row; ``occurred_at`` goes in as epoch milliseconds."""
        return {
            "event_id": row.event_id,
            "event_name": row.event_name,
            "schema_version": row.schema_version,
            "tenant_id": row.tenant_id,
            "occurred_at": row.occurred_ms,
            "correlation_id": row.correlation_id,
            "causation_id": row.causation_id,
            "payload": (
                row.payload
                if self._payload_is_json
                else to_avro_record(self._payload_fields, row.payload)
            ),
        }

    def dropped(self, row: AvroFields) -> list[str]:
        """Payload keys this schema does not define (pure): encoding would lose them."""
        payload = row.payload
        if not isinstance(payload, Mapping):
            return []
        if not self._nested and self._payload_names.issuperset(payload):
            return []
        return unknown_fields(self._payload_fields, payload)

    def value(self, row: AvroFields) -> bytes:
        """The framed value of a row; raises ValueError/TypeError when it does not fit, and
        ValueError when the payload has keys the schema does not define (fastavro would drop
        them silently: a newer version's field written under an older version's schema)."""
        dropped = self.dropped(row)
        if dropped:
            raise ValueError(
                f"{', '.join(dropped)} not in {self.schema.full_name} {self.schema.version}: "
                "encoding would drop them"
            )
        out = BytesIO(self.frame_header)
        out.seek(FRAME_HEADER_SIZE)
        schemaless_writer(out, self._parsed, self.record(row))
        return out.getvalue()
