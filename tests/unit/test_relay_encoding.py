"""The contract's Avro encoding (used by the outbox writer for `avro_value` and by the relay)
is byte-for-byte what confluent-kafka's AvroSerializer writes."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.serialization import MessageField, SerializationContext

from nmc.contract.envelope import Envelope, new_event
from nmc.contract.payload import format_rfc3339_utc
from nmc.contract.schemas import default_catalog
from nmc.contract.wire import SchemaEncoder, confluent_frame, frame_schema_id
from nmc.infra.schema_registry import value_serializer
from producers.outbox.values import StoredValues, avro_fields
from producers.relay.encoding import row_headers
from producers.relay.store import OutboxRow


def test_frame_is_magic_zero_then_big_endian_id_then_the_avro_bytes() -> None:
    assert confluent_frame(1, b"\x02ab") == b"\x00\x00\x00\x00\x01\x02ab"
    assert confluent_frame(0x01020304, b"") == b"\x00\x01\x02\x03\x04"
    assert confluent_frame(0xFFFFFFFF, b"x") == b"\x00\xff\xff\xff\xffx"
    with pytest.raises(ValueError):
        confluent_frame(2**32, b"")


def _row(causation: uuid.UUID | None, occurred_at: datetime) -> tuple[OutboxRow, Envelope]:
    conversation = uuid.uuid4()
    event = new_event(
        "nmc.conversation.MessageSent", tenant_id=uuid.uuid4(), correlation_id=conversation,
        causation_id=causation, occurred_at=occurred_at,
        payload={"message_id": str(uuid.uuid4()), "conversation_id": str(conversation),
                 "direction": "out", "status": "queued"},
    )
    return OutboxRow(
        id=1, event_id=str(event.event_id), event_name=event.event_name,
        schema_version=event.schema_version, tenant_id=str(event.tenant_id),
        correlation_id=str(event.correlation_id),
        causation_id=None if causation is None else str(causation),
        occurred_at=format_rfc3339_utc(event.occurred_at),
        occurred_ms=int(event.occurred_at.timestamp() * 1000),
        payload=dict(event.payload), topic=event.topic, record_key=event.key, attempts=0,
        created_epoch_s=time.time(), lane=0,
    ), event


@pytest.mark.parametrize("causation", [None, uuid.uuid4()])
@pytest.mark.parametrize("occurred_at", [
    datetime(2026, 11, 27, 21, 0, 0, 123000, tzinfo=UTC),
    datetime(2026, 11, 27, 21, 0, 0, tzinfo=UTC) + timedelta(days=3),
])
def test_encoding_matches_confluent_serializer_byte_for_byte(
    causation: uuid.UUID | None, occurred_at: datetime
) -> None:
    row, event = _row(causation, occurred_at)
    schema = default_catalog().get(row.event_name, 1)
    assert schema is not None
    registry = SchemaRegistryClient.new_client({"url": "mock://relay-encoding"})
    for _ in range(7):  # a schema id other than 1, so a swapped byte would show
        registry.register_schema(f"filler-{uuid.uuid4()}", Schema('"string"', "AVRO"))
    schema_id = registry.register_schema(schema.subject, Schema(schema.schema_str, "AVRO"))
    expected = value_serializer(registry, schema)(
        event.to_avro(schema), SerializationContext(row.topic, MessageField.VALUE)
    )
    value, headers = SchemaEncoder(schema, schema_id).value(row), row_headers(row)
    assert value == expected
    assert SchemaEncoder(schema, schema_id).value(avro_fields(event)) == expected  # the writer's
    assert value[:5] == b"\x00" + schema_id.to_bytes(4, "big")
    as_json = event.to_json()
    assert dict(headers) == {k: str(v) for k, v in as_json.items()
                             if k != "payload" and v is not None}
    assert [name for name, _ in headers][:6] == [
        "event_id", "event_name", "schema_version", "tenant_id", "correlation_id", "occurred_at"]


def test_every_catalog_event_encodes_like_the_confluent_serializer() -> None:
    """All 13 events, payload timestamps and nested records included."""
    from nmc.contract.envelope import parse_event
    from nmc.contract.examples import example_envelopes

    registry = SchemaRegistryClient.new_client({"url": "mock://relay-encoding-all"})
    catalog = default_catalog()
    envelopes = example_envelopes(uuid.uuid4(), uuid.uuid4())
    assert len({e["event_name"] for e in envelopes}) == len(catalog)
    for data in envelopes:
        event = parse_event(data)
        schema = catalog.get(event.event_name, event.major)
        assert schema is not None
        schema_id = registry.register_schema(schema.subject, Schema(schema.schema_str, "AVRO"))
        row = OutboxRow(
            id=1, event_id=str(event.event_id), event_name=event.event_name,
            schema_version=event.schema_version, tenant_id=str(event.tenant_id),
            correlation_id=str(event.correlation_id),
            causation_id=None if event.causation_id is None else str(event.causation_id),
            occurred_at=format_rfc3339_utc(event.occurred_at),
            occurred_ms=int(event.occurred_at.timestamp() * 1000),
            payload=dict(event.payload), topic=event.topic, record_key=event.key, attempts=0,
            created_epoch_s=time.time(), lane=0,
        )
        expected = value_serializer(registry, schema)(
            event.to_avro(schema), SerializationContext(row.topic, MessageField.VALUE))
        assert SchemaEncoder(schema, schema_id).value(row) == expected, event.event_name
        # what the outbox writer stores in avro_value, once it knows the id
        values = StoredValues(lambda _subject, _schema, i=schema_id: i, catalog=catalog)
        assert values.value(event) is None  # the id is being looked up: NULL, never a wait
        values.wait()
        assert values.value(event) == expected, event.event_name


def test_frame_schema_id_reads_bytes_one_to_four() -> None:
    assert frame_schema_id(confluent_frame(0x01020304, b"\x02")) == 0x01020304
    assert frame_schema_id(b"\x01\x00\x00\x00\x01x") is None  # not the magic byte
    assert frame_schema_id(b"\x00\x00") is None
