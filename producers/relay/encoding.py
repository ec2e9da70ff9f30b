"""Turning an outbox row into a Kafka record's value and headers, without per-row registry work.

The value is Avro in the Confluent wire format (DESIGN.md §2). The schema is parsed once and
its registry id looked up once per subject; each row then costs one fastavro
``schemaless_writer`` call and one framing concatenation. ``tests/unit`` checks the bytes
against confluent-kafka's ``AvroSerializer``.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping, Sequence
from io import BytesIO
from typing import Any

from fastavro import parse_schema, schemaless_writer

from nmc.contract.payload import to_avro_record
from nmc.contract.schemas import EventSchema
from producers.relay.store import OutboxRow

MAGIC_BYTE = 0
_FRAME_HEADER = struct.Struct(">bI")

Header = tuple[str, str | bytes | None]  # the element type confluent-kafka's stubs accept


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


def row_headers(row: OutboxRow) -> list[Header]:
    """DESIGN.md §2 headers, built straight from the row (``causation_id`` only when set)."""
    headers: list[Header] = [
        ("event_id", row.event_id),
        ("event_name", row.event_name),
        ("schema_version", row.schema_version),
        ("tenant_id", row.tenant_id),
        ("correlation_id", row.correlation_id),
        ("occurred_at", row.occurred_at),
    ]
    if row.causation_id is not None:
        headers.append(("causation_id", row.causation_id))
    return headers


def _json_is_avro(avro_type: Any) -> bool:
    """True when `to_avro_value` returns a JSON value of this type unchanged (pure)."""
    if isinstance(avro_type, list):
        return all(_json_is_avro(t) for t in avro_type)
    if isinstance(avro_type, dict):
        if avro_type.get("logicalType") in ("timestamp-millis", "timestamp-micros"):
            return False
        return avro_type.get("type") not in ("record", "array")
    return True


class SchemaEncoder:
    """One event schema, parsed once, with its registry id: encodes rows to framed values."""

    def __init__(self, schema: EventSchema, schema_id: int) -> None:
        self.schema = schema
        self.schema_id = schema_id
        self._parsed = parse_schema(json.loads(schema.schema_str))
        self._frame = confluent_frame(schema_id, b"")  # magic byte and id, the same every row
        self._payload_fields: Sequence[Mapping[str, Any]] = list(schema.payload_fields)
        # When no payload field needs converting (timestamps, nested records), the JSON the
        # writer validated is already what fastavro writes: skip the per-row copy.
        self._payload_is_json = all(_json_is_avro(f["type"]) for f in self._payload_fields)

    def record(self, row: OutboxRow) -> dict[str, Any]:
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

    def encode(self, row: OutboxRow) -> tuple[bytes, list[Header]]:
        """Framed value and headers of a row; raises ValueError/TypeError when it does not fit."""
        out = BytesIO(self._frame)
        out.seek(len(self._frame))
        schemaless_writer(out, self._parsed, self.record(row))
        return out.getvalue(), row_headers(row)

