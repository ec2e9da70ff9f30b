"""Schema Registry access over the Confluent API only (works with Apicurio ccompat,
Confluent Schema Registry and Karapace alike)."""

from __future__ import annotations

from confluent_kafka.schema_registry import (
    SchemaRegistryClient,
    topic_record_subject_name_strategy,
)
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer

from nmc.contract.schemas import EventSchema
from nmc.infra.connection import registry_auth
from nmc.infra.settings import ServiceSettings


def registry_client(settings: ServiceSettings) -> SchemaRegistryClient:
    # A timeout, because a registry that accepts a connection and never answers would
    # otherwise hang a relay, a worker or a consumer forever.
    return SchemaRegistryClient(
        {
            "url": settings.registry,
            "timeout": settings.nmc_registry_timeout_s,
            **registry_auth(settings.connection),
        }
    )


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


# The writer schema comes from the id in each record; a subject lookup (the client's default
# strategy asks the registry for subject associations, an API Apicurio does not serve) only
# adds a request that can hang.
DESERIALIZER_CONF = {"subject.name.strategy": topic_record_subject_name_strategy}


def value_deserializer(client: SchemaRegistryClient) -> AvroDeserializer:
    """Reads any registered writer schema by the id in the Confluent wire format."""
    deserializer: AvroDeserializer = AvroDeserializer(client, conf=DESERIALIZER_CONF)
    return deserializer
