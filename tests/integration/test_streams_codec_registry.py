"""The stream apps' fastavro decoder reads exactly what confluent-kafka's AvroDeserializer reads.

One example of every event of the catalog, encoded the way the relay frames it,
against the real registry: both decoders must return equal records.
"""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka.serialization import MessageField, SerializationContext
from support.settings import PlatformSettings as Settings

from nmc.contract.envelope import parse_event
from nmc.contract.examples import example_envelopes
from nmc.contract.facts import PoisonEvent
from nmc.contract.schemas import default_catalog
from nmc.infra.avro_decoder import registry_decoder
from nmc.infra.schema_registry import registry_client, value_deserializer, value_serializer


def test_decoder_agrees_with_confluent_on_every_schema(stack: Settings) -> None:
    client = registry_client(stack)
    ours = registry_decoder(client)
    theirs = value_deserializer(client)
    catalog = default_catalog()
    examples = example_envelopes(uuid.uuid4(), uuid.uuid4())
    checked = 0
    for example in examples:
        envelope = parse_event(example)
        schema = catalog.latest(envelope.event_name)
        ctx = SerializationContext(envelope.topic, MessageField.VALUE)
        value = value_serializer(client, schema)(envelope.to_avro(schema), ctx)
        assert value is not None
        decoded = ours(value)
        assert decoded == theirs(value, ctx), envelope.event_name
        assert str(decoded["event_id"]) == example["event_id"]
        checked += 1
    assert checked == len(catalog.schemas) == 13


def test_unknown_schema_id_is_the_registrys_404(stack: Settings) -> None:
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    decode = registry_decoder(registry_client(stack))
    with pytest.raises(SchemaRegistryError) as info:
        decode(b"\x00\x7f\xff\xff\xf0" + b"\x02")
    assert info.value.http_status_code == 404
    with pytest.raises(PoisonEvent, match="magic byte"):
        decode(b"\x01\x00\x00\x00\x01\x02")
