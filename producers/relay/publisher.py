"""Kafka side of the relay: Avro through the registry, headers, event-time timestamps.

Serialization errors are permanent (the row can never be written as is); registry and broker
unavailability are transient. The producer is idempotent with acks=all, so within a partition
Kafka keeps the order we produce in.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext
from requests.exceptions import RequestException

from nmc.contract.headers import event_headers
from nmc.contract.payload import format_rfc3339_utc, to_avro_record
from nmc.contract.schemas import EventSchema, SchemaCatalog, parse_semver
from nmc.registry import value_serializer
from producers.relay.outcome import Delivery, RowResult
from producers.relay.store import OutboxRow

log = logging.getLogger(__name__)


class TransientPublishError(RuntimeError):
    """The batch could not be published for a reason that may go away (retry with backoff)."""


class PermanentRowError(ValueError):
    """This row can never be published as is."""


def _is_transient_registry_error(exc: Exception) -> bool:
    if isinstance(exc, RequestException | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, SchemaRegistryError):
        return exc.http_status_code >= 500 or exc.http_status_code in (408, 429, -1)
    return False


class KafkaPublisher:
    """Turns outbox rows into Kafka records and reports one `RowResult` per row."""

    def __init__(
        self,
        producer: Producer,
        registry: SchemaRegistryClient,
        catalog: SchemaCatalog,
        flush_timeout_s: float,
    ) -> None:
        self._producer = producer
        self._registry = registry
        self._catalog = catalog
        self._flush_timeout_s = flush_timeout_s
        self._serializers: dict[tuple[str, str], tuple[AvroSerializer, EventSchema, list[Any]]] = {}

    def _serializer(self, row: OutboxRow) -> tuple[AvroSerializer, EventSchema, list[Any]]:
        cache_key = (row.event_name, row.schema_version)
        cached = self._serializers.get(cache_key)
        if cached is not None:
            return cached
        try:
            major = parse_semver(row.schema_version)[0]
        except ValueError as exc:
            raise PermanentRowError(f"schema_version: {exc}") from None
        schema = self._catalog.get(row.event_name, major)
        if schema is None:
            raise PermanentRowError(f"no schema for {row.event_name} v{major} in schemas-avro/")
        entry = (value_serializer(self._registry, schema), schema, list(schema.payload_fields))
        self._serializers[cache_key] = entry
        return entry

    def encode(self, row: OutboxRow) -> tuple[bytes, list[tuple[str, str | bytes | None]]]:
        """Avro value and headers of a row; raises PermanentRowError or TransientPublishError."""
        serializer, schema, payload_fields = self._serializer(row)
        envelope: dict[str, Any] = {
            "event_id": str(row.event_id),
            "event_name": row.event_name,
            "schema_version": row.schema_version,
            "tenant_id": str(row.tenant_id),
            "occurred_at": format_rfc3339_utc(row.occurred_at),
            "correlation_id": str(row.correlation_id),
            "causation_id": None if row.causation_id is None else str(row.causation_id),
        }
        try:
            record: dict[str, Any] = dict(envelope, occurred_at=row.occurred_at)
            record["payload"] = to_avro_record(payload_fields, row.payload)
            value = serializer(record, SerializationContext(row.topic, MessageField.VALUE))
        except Exception as exc:
            if _is_transient_registry_error(exc):
                raise TransientPublishError(f"schema registry unavailable: {exc}") from exc
            if isinstance(exc, SchemaRegistryError) and exc.http_status_code == 404:
                raise PermanentRowError(
                    f"schema {schema.subject} is not registered (run `nmc schemas register`)"
                ) from exc
            raise PermanentRowError(f"does not match {schema.full_name}: {exc}") from exc
        if value is None:
            raise PermanentRowError("serializer produced no value")
        return value, list(event_headers(envelope))

    def close(self) -> None:
        self._producer.flush(self._flush_timeout_s)
        self._registry.close()

    def publish(self, rows: Sequence[OutboxRow]) -> list[RowResult]:
        """Produce rows in id order, flush, and report each row's delivery."""
        results: dict[int, RowResult] = {}
        blocked: set[str] = set()

        def on_delivery(row: OutboxRow) -> Any:
            def callback(err: KafkaError | None, msg: Message) -> None:
                if err is None:
                    results[row.id] = RowResult(
                        row.id,
                        row.record_key,
                        Delivery.ACKED,
                        partition=msg.partition(),
                        offset=msg.offset(),
                    )
                else:
                    transient = err.retriable() or err.code() in (
                        KafkaError._MSG_TIMED_OUT,
                        KafkaError._TIMED_OUT,
                        KafkaError._TRANSPORT,
                        KafkaError._ALL_BROKERS_DOWN,
                        KafkaError._PURGE_QUEUE,
                    )
                    results[row.id] = RowResult(
                        row.id,
                        row.record_key,
                        Delivery.TRANSIENT if transient else Delivery.PERMANENT,
                        error=f"kafka: {err.str()}",
                    )

            return callback

        for row in rows:
            if row.record_key in blocked:
                results[row.id] = RowResult(row.id, row.record_key, Delivery.NOT_SENT)
                continue
            try:
                value, headers = self.encode(row)
            except PermanentRowError as exc:
                blocked.add(row.record_key)
                results[row.id] = RowResult(row.id, row.record_key, Delivery.PERMANENT, str(exc))
                continue
            except TransientPublishError:
                self._producer.flush(self._flush_timeout_s)
                raise
            timestamp_ms = int(row.occurred_at.timestamp() * 1000)
            while True:
                try:
                    self._producer.produce(
                        row.topic,
                        key=row.record_key.encode(),
                        value=value,
                        headers=headers,
                        timestamp=timestamp_ms,
                        on_delivery=on_delivery(row),
                    )
                    break
                except BufferError:
                    self._producer.poll(0.1)
                except KafkaException as exc:
                    blocked.add(row.record_key)
                    results[row.id] = RowResult(
                        row.id, row.record_key, Delivery.PERMANENT, f"kafka: {exc}"
                    )
                    break
            self._producer.poll(0)
        remaining = self._producer.flush(self._flush_timeout_s)
        if remaining:
            log.warning(
                "%d records not acknowledged within %.0fs", remaining, self._flush_timeout_s
            )
        for row in rows:
            results.setdefault(
                row.id,
                RowResult(row.id, row.record_key, Delivery.TRANSIENT, "kafka: no acknowledgement"),
            )
        return [results[r.id] for r in rows]
