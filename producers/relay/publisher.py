"""Kafka side of the relay: Avro in the Confluent framing, headers, event-time timestamps.

Each row goes out with the schema of its own `schema_version` (`producers.relay.versions`): the
value the writer stored is sent byte for byte when its frame carries that version's id, and is
otherwise encoded with that version's schema — never with another version's. A row whose
version is unknown is held (parked with a retry time). Serialization errors are permanent (the
row can never be written as is); registry and broker unavailability are transient. The producer
is idempotent with acks=all, so within a partition Kafka keeps the order we produce in.

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
from opentelemetry.trace import Span, SpanKind, StatusCode

from nmc.infra import tracing
from producers.relay.encoding import Header, row_headers, stored_value
from producers.relay.outcome import Delivery, RowResult, held_retry_s, refused_rows
from producers.relay.ports import OutboxRow
from producers.relay.ports import TransientPublishError as TransientPublishError
from producers.relay.versions import (
    ConfluentVersions,
    RegistryUnavailable,
    UnknownVersion,
    WriterSchema,
    WriterSchemas,
)

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


class PermanentRowError(ValueError):
    """This row can never be published as is."""


class HeldRowError(LookupError):
    """This row's schema version cannot be resolved yet: hold it, try again later."""


@dataclass(frozen=True)
class HeldPolicy:
    """How rows of an unknown schema version are retried (see `held_retry_s`)."""

    first_retry_s: float = 30.0
    max_attempts: int = 12


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
    spans: dict[int, Span] | None = None  # publish spans by row id, when tracing is on


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
        schemas: WriterSchemas,
        flush_timeout_s: float,
        timestamp_after_max_s: float = 0.0,
        link: KafkaLink | None = None,
        clock: Callable[[], float] = time.time,
        held: HeldPolicy | None = None,
        registry: ConfluentVersions | None = None,
    ) -> None:
        """`registry` is closed with the publisher (the adapter behind `schemas`)."""
        self._producer = producer
        self._schemas = schemas
        self._registry = registry
        self._flush_timeout_s = flush_timeout_s
        self._after_max_s = timestamp_after_max_s
        self.link = link or KafkaLink()
        self._clock = clock
        self._held = held or HeldPolicy()
        self.encoded = 0  # rows encoded here rather than published from their stored value

    # --- encoding ---------------------------------------------------------------------------
    def writer_schema(self, row: OutboxRow) -> WriterSchema:
        """The schema of the row's own (topic, event, schema_version); raises
        PermanentRowError, HeldRowError or TransientPublishError."""
        try:
            return self._schemas.resolve(row.topic, row.event_name, row.schema_version)
        except UnknownVersion as exc:
            raise HeldRowError(str(exc)) from None
        except RegistryUnavailable as exc:
            raise TransientPublishError(str(exc)) from exc
        except ValueError as exc:
            raise PermanentRowError(f"schema_version: {exc}") from None

    def encode(self, row: OutboxRow) -> tuple[bytes, list[Header]]:
        """Framed Avro value and headers; raises PermanentRowError, HeldRowError or
        TransientPublishError.

        The value the writer stored is sent as is when its frame carries an id of the row's
        own version (`stored_value`); otherwise the row is encoded now with that version's
        schema, which refuses a payload it would drop keys of."""
        writer = self.writer_schema(row)
        value = stored_value(row.avro_value, writer.frame_headers)
        if value is None:
            encoder = writer.encoder
            try:
                value = encoder.value(row)
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                raise PermanentRowError(
                    f"does not match {encoder.schema.full_name} {writer.version}: {exc}"
                ) from exc
            self.encoded += 1
        return value, row_headers(row)

    def stale_without_payload(self, rows: Sequence[OutboxRow]) -> list[OutboxRow]:
        """Rows fetched without their payload whose stored value cannot be published (its
        schema id is not one of the row's version): their payload must be loaded to encode
        them. Rows whose schema cannot be had are left out (they are held or parked)."""
        stale = []
        for row in rows:
            if row.payload is not None:
                continue
            try:
                headers = self.writer_schema(row).frame_headers
            except (PermanentRowError, HeldRowError, TransientPublishError):
                continue
            if stored_value(row.avro_value, headers) is None:
                stale.append(row)
        return stale

    def _held_result(self, row: OutboxRow, reason: str) -> RowResult:
        """HELD with its retry delay, or PERMANENT once the attempts are used up."""
        policy = self._held
        retry_s = held_retry_s(row.attempts, policy.first_retry_s, policy.max_attempts)
        if retry_s is None:
            return RowResult(row.id, row.record_key, Delivery.PERMANENT,
                             f"{reason} (gave up after {policy.max_attempts} attempts)")
        return RowResult(row.id, row.record_key, Delivery.HELD, reason, retry_after_s=retry_s)

    # --- producing --------------------------------------------------------------------------
    def close(self) -> None:
        self._producer.flush(self._flush_timeout_s)
        if self._registry is not None:
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
        self, rows: Sequence[OutboxRow], results: dict[int, RowResult], now_ms: int,
        spans: dict[int, Span] | None = None,
    ) -> None:
        """Encode and produce rows in id order (no flush); a failed row blocks its key. A row
        with a publish span (`spans`) carries that span's context in its `traceparent`."""
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
            except HeldRowError as exc:
                blocked.add(key)
                results[row.id] = self._held_result(row, str(exc))
                continue
            except TransientPublishError:
                producer.flush(self._flush_timeout_s)
                raise
            if spans and row.id in spans:
                headers = with_traceparent(headers, spans[row.id])
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
        if tracing.enabled():
            batch.spans = publish_spans(rows)
        self._send(rows, batch.results, batch.now_ms, batch.spans)
        return batch

    def finish(self, batch: InFlight) -> list[RowResult]:
        """Flush, isolate what the broker refused, and report one result per row."""
        self._flush()
        rows, results = batch.rows, batch.results
        refused = refused_rows([results[r.id] for r in rows if r.id in results])
        if refused:
            self._isolate([r for r in rows if r.id in refused], results, batch.now_ms,
                          batch.spans)
        missing = KAFKA_PREFIX + "no acknowledgement"
        verdicts = [
            results.get(r.id) or RowResult(r.id, r.record_key, Delivery.TRANSIENT, missing)
            for r in rows
        ]
        if batch.spans:
            end_publish_spans(batch.spans, verdicts)
        return verdicts

    def publish(self, rows: Sequence[OutboxRow]) -> list[RowResult]:
        """Produce rows in id order, flush, isolate what the broker refused, report each row."""
        return self.finish(self.start(rows))

    def _isolate(
        self, rows: Sequence[OutboxRow], results: dict[int, RowResult], now_ms: int,
        spans: dict[int, Span] | None = None,
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
            self._send([row], results, now_ms, spans)
            self._flush()
            alone = results.get(row.id)
            if alone is None or alone.delivery is not Delivery.ACKED:
                blocked.add(row.record_key)
                if alone is not None and alone.delivery is Delivery.PERMANENT:
                    log.error("row %d is refused on its own: %s", row.id, alone.error)


# --- tracing (only when `nmc.infra.tracing` is on) -----------------------------------------

_TRACER = tracing.tracer("relay")


def publish_spans(rows: Sequence[OutboxRow]) -> dict[int, Span]:
    """A `publish` span per row that carries a trace context, a child of the writer's span;
    rows without one are published untraced (a span of their own would be a lone root)."""
    spans: dict[int, Span] = {}
    for row in rows:
        parent = tracing.parent_from(row.traceparent)
        if parent is None:
            continue
        spans[row.id] = _TRACER.start_span(
            f"publish {row.topic}", context=parent, kind=SpanKind.PRODUCER,
            attributes={"messaging.system": "kafka", "messaging.destination.name": row.topic,
                        "messaging.operation.type": "send", "nmc.event_name": row.event_name,
                        "nmc.event_id": row.event_id, "nmc.outbox.id": row.id})
    return spans


def with_traceparent(headers: list[Header], span: Span) -> list[Header]:
    """The headers with `traceparent` naming `span` (the consumer's parent) instead."""
    return [*(h for h in headers if h[0] != tracing.HEADER),
            (tracing.HEADER, tracing.traceparent_of(span))]


def end_publish_spans(spans: dict[int, Span], results: Sequence[RowResult]) -> None:
    """End each row's publish span with the broker's verdict."""
    for result in results:
        span = spans.get(result.row_id)
        if span is None:
            continue
        if result.delivery is Delivery.ACKED:
            span.set_attribute("messaging.destination.partition.id", str(result.partition))
            span.set_attribute("messaging.kafka.offset", result.offset or 0)
        else:
            span.set_status(StatusCode.ERROR, result.error or result.delivery.name)
        span.end()
