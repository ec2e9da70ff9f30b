"""Kafka side of the relay: Avro in the Confluent framing, headers, event-time timestamps.

Serialization errors are permanent (the row can never be written as is); registry and broker
unavailability are transient. The producer is idempotent with acks=all, so within a partition
Kafka keeps the order we produce in.

A broker refuses some requests as a whole: Kafka 4 answers INVALID_TIMESTAMP for every record
of a partition's record batch when one of them is more than
``log.message.timestamp.after.max.ms`` ahead. So rows the broker refused are re-sent one by one
(each alone in its request): the broker's answer then concerns that row only, the culprit is
parked and the innocent rows are published. Rows far in the future are caught before producing
too (`nmc_kafka_timestamp_after_max_s`), so the common case never reaches the broker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from requests.exceptions import RequestException

from nmc.contract.schemas import SchemaCatalog, parse_semver
from nmc.contract.wire import SchemaEncoder
from producers.relay.encoding import Header, row_headers, stored_value
from producers.relay.outcome import Delivery, RowResult, refused_rows
from producers.relay.store import OutboxRow

log = logging.getLogger(__name__)

KAFKA_PREFIX = "kafka: "

# librdkafka's local errors that mean "the broker was not reachable", not "the record is bad".
_UNREACHABLE = (
    KafkaError._MSG_TIMED_OUT,
    KafkaError._TIMED_OUT,
    KafkaError._TRANSPORT,
    KafkaError._ALL_BROKERS_DOWN,
    KafkaError._PURGE_QUEUE,
)


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


def future_error(occurred_ms: int, now_ms: int, after_max_s: float) -> str | None:
    """Why the broker would refuse this event time (pure); None when it accepts it."""
    if after_max_s <= 0:
        return None
    ahead_s = (occurred_ms - now_ms) / 1000
    if ahead_s <= after_max_s:
        return None
    return (
        f"occurred_at is {ahead_s:,.0f}s ahead of now; the broker refuses record timestamps more "
        f"than {after_max_s:,.0f}s ahead (log.message.timestamp.after.max.ms, INVALID_TIMESTAMP)"
    )


@dataclass
class InFlight:
    """A produced batch whose acknowledgements are still arriving (filled by callbacks)."""

    rows: Sequence[OutboxRow]
    results: dict[int, RowResult]
    now_ms: int


class KafkaLink:
    """What the relay knows about its connection to Kafka (fed by librdkafka callbacks)."""

    def __init__(self) -> None:
        self.connected = False
        self.last_error: str | None = None

    def on_error(self, err: KafkaError) -> None:
        """librdkafka's `error_cb`: only reachability errors change the state."""
        if err.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT):
            self.connected = False
            self.last_error = err.str()


class KafkaPublisher:
    """Turns outbox rows into Kafka records and reports one `RowResult` per row."""

    def __init__(
        self,
        producer: Producer,
        registry: SchemaRegistryClient,
        catalog: SchemaCatalog,
        flush_timeout_s: float,
        timestamp_after_max_s: float = 0.0,
        link: KafkaLink | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._producer = producer
        self._registry = registry
        self._catalog = catalog
        self._flush_timeout_s = flush_timeout_s
        self._after_max_s = timestamp_after_max_s
        self.link = link or KafkaLink()
        self._clock = clock
        self._encoders: dict[tuple[str, str], SchemaEncoder] = {}
        self._schema_ids: dict[str, int] = {}
        self.encoded = 0  # rows encoded here rather than published from their stored value

    # --- encoding ---------------------------------------------------------------------------
    def _schema_id(self, subject: str, schema_str: str) -> int:
        """The registered id of a schema, looked up once per subject (never registers)."""
        cached = self._schema_ids.get(subject)
        if cached is not None:
            return cached
        try:
            registered = self._registry.lookup_schema(
                subject, Schema(schema_str, "AVRO"), normalize_schemas=False
            )
        except Exception as exc:
            if _is_transient_registry_error(exc):
                raise TransientPublishError(f"schema registry unavailable: {exc}") from exc
            if isinstance(exc, SchemaRegistryError) and exc.http_status_code == 404:
                raise PermanentRowError(
                    f"schema {subject} is not registered (run `nmc schemas register`)"
                ) from exc
            raise
        schema_id = registered.schema_id
        assert schema_id is not None
        self._schema_ids[subject] = schema_id
        return schema_id

    def encoder(self, row: OutboxRow) -> SchemaEncoder:
        """The encoder of a row's (event, schema_version); built once, then cached."""
        cache_key = (row.event_name, row.schema_version)
        cached = self._encoders.get(cache_key)
        if cached is not None:
            return cached
        try:
            major = parse_semver(row.schema_version)[0]
        except ValueError as exc:
            raise PermanentRowError(f"schema_version: {exc}") from None
        schema = self._catalog.get(row.event_name, major)
        if schema is None:
            raise PermanentRowError(f"no schema for {row.event_name} v{major} in schemas-avro/")
        encoder = SchemaEncoder(schema, self._schema_id(schema.subject, schema.schema_str))
        self._encoders[cache_key] = encoder
        return encoder

    def encode(self, row: OutboxRow) -> tuple[bytes, list[Header]]:
        """Framed Avro value and headers; raises PermanentRowError or TransientPublishError.

        The value the writer stored is used when its frame carries the id resolved here for
        the row's subject (`stored_value`); otherwise the row is encoded now."""
        encoder = self.encoder(row)
        value = stored_value(row.avro_value, encoder.frame_header)
        if value is None:
            try:
                value = encoder.value(row)
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                raise PermanentRowError(
                    f"does not match {encoder.schema.full_name}: {exc}"
                ) from exc
            self.encoded += 1
        return value, row_headers(row)

    def stale_without_payload(self, rows: Sequence[OutboxRow]) -> list[OutboxRow]:
        """Rows fetched without their payload whose stored value cannot be published (its
        schema id is not the one resolved here): their payload must be loaded to encode them.
        Rows whose encoder cannot be had are left out (encoding them fails without a payload
        too, and is reported then)."""
        stale = []
        for row in rows:
            if row.payload is not None:
                continue
            try:
                header = self.encoder(row).frame_header
            except (PermanentRowError, TransientPublishError):
                continue
            if stored_value(row.avro_value, header) is None:
                stale.append(row)
        return stale

    # --- producing --------------------------------------------------------------------------
    def close(self) -> None:
        self._producer.flush(self._flush_timeout_s)
        self._registry.close()

    def probe(self, timeout_s: float) -> bool:
        """Ask the broker for metadata; updates and returns `link.connected`."""
        try:
            self._producer.list_topics(timeout=timeout_s)
        except KafkaException as exc:
            self.link.connected = False
            self.link.last_error = str(exc)
        else:
            self.link.connected = True
        return self.link.connected

    def _callback(self, results: dict[int, RowResult], row: OutboxRow) -> Any:
        link = self.link

        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            if err is None:
                link.connected = True
                results[row.id] = RowResult(
                    row.id, row.record_key, Delivery.ACKED,
                    partition=msg.partition(), offset=msg.offset(),
                )
                return
            transient = err.retriable() or err.code() in _UNREACHABLE
            results[row.id] = RowResult(
                row.id, row.record_key,
                Delivery.TRANSIENT if transient else Delivery.PERMANENT,
                error=KAFKA_PREFIX + err.str(),
                refused=not transient,
            )

        return on_delivery

    def _send(
        self, rows: Sequence[OutboxRow], results: dict[int, RowResult], now_ms: int
    ) -> None:
        """Encode and produce rows in id order (no flush); a failed row blocks its key."""
        blocked: set[str] = set()
        producer, encode = self._producer, self.encode
        # The common case skips building a message: only rows past the limit ask future_error.
        latest_ms = now_ms + self._after_max_s * 1000 if self._after_max_s > 0 else None
        for row in rows:
            key = row.record_key
            if key in blocked:
                results[row.id] = RowResult(row.id, key, Delivery.NOT_SENT)
                continue
            ahead = (
                future_error(row.occurred_ms, now_ms, self._after_max_s)
                if latest_ms is not None and row.occurred_ms > latest_ms
                else None
            )
            if ahead is not None:
                blocked.add(key)
                results[row.id] = RowResult(row.id, key, Delivery.PERMANENT, ahead)
                continue
            try:
                value, headers = encode(row)
            except PermanentRowError as exc:
                blocked.add(key)
                results[row.id] = RowResult(row.id, key, Delivery.PERMANENT, str(exc))
                continue
            except TransientPublishError:
                producer.flush(self._flush_timeout_s)
                raise
            callback = self._callback(results, row)
            while True:
                try:
                    producer.produce(
                        row.topic, value, key, headers=headers,
                        timestamp=row.occurred_ms, on_delivery=callback,
                    )
                    break
                except BufferError:
                    producer.poll(0.05)
                except KafkaException as exc:
                    blocked.add(key)
                    results[row.id] = RowResult(
                        row.id, key, Delivery.PERMANENT, f"{KAFKA_PREFIX}{exc}"
                    )
                    break

    def _flush(self) -> None:
        remaining = self._producer.flush(self._flush_timeout_s)
        if remaining:
            log.warning(
                "%d records not acknowledged within %.0fs", remaining, self._flush_timeout_s
            )

    def start(self, rows: Sequence[OutboxRow]) -> InFlight:
        """Encode and produce a batch without waiting: the caller may fetch the next batch
        while librdkafka's threads deliver this one; `finish` waits for the verdicts."""
        batch = InFlight(rows, {}, int(self._clock() * 1000))
        self._send(rows, batch.results, batch.now_ms)
        return batch

    def finish(self, batch: InFlight) -> list[RowResult]:
        """Flush, isolate what the broker refused, and report one result per row."""
        self._flush()
        rows, results = batch.rows, batch.results
        refused = refused_rows([results[r.id] for r in rows if r.id in results])
        if refused:
            self._isolate([r for r in rows if r.id in refused], results, batch.now_ms)
        missing = KAFKA_PREFIX + "no acknowledgement"
        return [
            results.get(r.id) or RowResult(r.id, r.record_key, Delivery.TRANSIENT, missing)
            for r in rows
        ]

    def publish(self, rows: Sequence[OutboxRow]) -> list[RowResult]:
        """Produce rows in id order, flush, isolate what the broker refused, report each row."""
        return self.finish(self.start(rows))

    def _isolate(
        self, rows: Sequence[OutboxRow], results: dict[int, RowResult], now_ms: int
    ) -> None:
        """Re-send refused rows one request at a time, in id order: the broker's verdict on a
        lone record is about that record, so only the real culprits stay refused."""
        log.warning(
            "broker refused %d records as a whole; re-sending them one by one", len(rows)
        )
        blocked: set[str] = set()
        for row in rows:
            if row.record_key in blocked:
                results[row.id] = RowResult(row.id, row.record_key, Delivery.NOT_SENT)
                continue
            del results[row.id]
            self._send([row], results, now_ms)
            self._flush()
            alone = results.get(row.id)
            if alone is None or alone.delivery is not Delivery.ACKED:
                blocked.add(row.record_key)
                if alone is not None and alone.delivery is Delivery.PERMANENT:
                    log.error("row %d is refused on its own: %s", row.id, alone.error)
