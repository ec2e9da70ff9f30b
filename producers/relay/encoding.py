"""Turning an outbox row into a Kafka record's value and headers, without per-row registry work.

The value is Avro in the Confluent wire format (DESIGN.md §2), encoded by the contract's
`nmc.contract.wire.SchemaEncoder` — the implementation the outbox writer uses to store a row's
value in `avro_value`. A stored value is published as is when its frame carries a schema id of
the row's own version (`stored_value`); otherwise the relay encodes the row with that version.
"""

from __future__ import annotations

from nmc.contract.wire import FRAME_HEADER_SIZE
from producers.relay.store import OutboxRow

Header = tuple[str, str | bytes | None]  # the element type confluent-kafka's stubs accept


def stored_value(avro_value: bytes | None, frame_headers: frozenset[bytes]) -> bytes | None:
    """The value the writer stored, when it may be published as is (pure); None to encode.

    `frame_headers` are the magic byte and schema ids of the row's own version, as the relay
    resolved them: a value framed with any other id (another version's, a reset registry's, a
    registry the writer saw and the relay does not) is never published.
    """
    if (
        avro_value is None
        or len(avro_value) <= FRAME_HEADER_SIZE
        or avro_value[:FRAME_HEADER_SIZE] not in frame_headers
    ):
        return None
    return avro_value


def row_headers(row: OutboxRow) -> list[Header]:
    """DESIGN.md §2 headers, built straight from the row (``causation_id`` only when set,
    ``traceparent`` — optional, W3C trace context — only when the row carries one)."""
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
    if row.traceparent is not None:
        headers.append(("traceparent", row.traceparent))
    return headers
