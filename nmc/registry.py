"""Schema Registry access over the Confluent API only (works with Apicurio ccompat,
Confluent Schema Registry and Karapace alike)."""

from __future__ import annotations

from confluent_kafka.schema_registry import (
    SchemaRegistryClient,
    topic_record_subject_name_strategy,
)
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer

from nmc.contract.schemas import EventSchema
from nmc.settings import Settings


def registry_client(settings: Settings) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": settings.registry})


def value_serializer(client: SchemaRegistryClient, schema: EventSchema) -> AvroSerializer:
    """A serializer that never registers: production producers look schemas up (DESIGN.md §3)."""
    serializer: AvroSerializer = AvroSerializer(
        client,
        schema.schema_str,
        conf={
            "auto.register.schemas": False,
            "use.latest.version": False,
            "normalize.schemas": False,
            "subject.name.strategy": topic_record_subject_name_strategy,
        },
    )
    return serializer


def value_deserializer(client: SchemaRegistryClient) -> AvroDeserializer:
    """Reads any registered writer schema by the id in the Confluent wire format."""
    deserializer: AvroDeserializer = AvroDeserializer(client)
    return deserializer
