"""A Faust codec for the Confluent wire format, built on confluent-kafka's AvroDeserializer.

faust-streaming ships no Avro codec (DESIGN.md §6). Source topics are read as raw bytes and
the agents decode through this codec explicitly, so a record that cannot be decoded reaches
our handler (and the dead-letter path) instead of failing inside Faust's consumer.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
from faust.serializers import codecs

from nmc.infra.schema_registry import DESERIALIZER_CONF

CODEC_NAME = "avro_confluent"


class AvroConfluentCodec(codecs.Codec):
    """Decode-only codec: the stream apps never produce Avro (the relay does)."""

    def __init__(self, client: SchemaRegistryClient, topic: str = "", **kwargs: Any) -> None:
        super().__init__(client=client, topic=topic, **kwargs)
        self._deserializer = AvroDeserializer(client, conf=DESERIALIZER_CONF)
        self._ctx = SerializationContext(topic, MessageField.VALUE)

    def _loads(self, s: bytes) -> Any:
        return self._deserializer(s, self._ctx)

    def _dumps(self, obj: Any) -> bytes:
        raise NotImplementedError("avro_confluent is decode-only; producers use the relay")


def register(client: SchemaRegistryClient) -> AvroConfluentCodec:
    """Register the codec under `avro_confluent` and return it."""
    codec = AvroConfluentCodec(client)
    codecs.register(CODEC_NAME, codec)
    return codec
