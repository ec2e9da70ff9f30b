"""Schema Registry access over the Confluent API only (works with Apicurio ccompat,
Confluent Schema Registry and Karapace alike)."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka.schema_registry import (
    Schema,
    SchemaRegistryClient,
    topic_record_subject_name_strategy,
)
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError

from nmc.contract.schemas import EventSchema, SchemaCatalog
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


@dataclass(frozen=True)
class Registration:
    subject: str
    schema_id: int
    version: int
    created: bool


def register_all(settings: Settings, catalog: SchemaCatalog, level: str) -> list[Registration]:
    """Set each subject's compatibility level, then register its schema (idempotent)."""
    with registry_client(settings) as client:
        return _register(client, catalog, level)


def _register(
    client: SchemaRegistryClient, catalog: SchemaCatalog, level: str
) -> list[Registration]:
    done = []
    for event in catalog:
        subject = event.subject
        schema = Schema(event.schema_str, "AVRO")
        try:
            existing = client.lookup_schema(subject, schema)
            done.append(
                Registration(subject, existing.schema_id or 0, existing.version or 0, False)
            )
            continue
        except SchemaRegistryError as exc:
            if exc.http_status_code != 404:
                raise
        client.set_compatibility(subject, level)
        schema_id = client.register_schema(subject, schema)
        version = client.lookup_schema(subject, schema).version or 0
        done.append(Registration(subject, schema_id, version, True))
    return done
