"""Kafka record headers of DESIGN.md §2, so consumers can filter without decoding Avro."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

HEADER_NAMES = (
    "event_id",
    "event_name",
    "schema_version",
    "tenant_id",
    "correlation_id",
    "occurred_at",
    "causation_id",
)

# Optional headers: never built from the envelope (they are not part of the value); a consumer
# may read them and must not require them. `traceparent`: W3C trace context of the producing
# span (docs/operating/tracing.md), written by the relay when the outbox row carries one.
TRACEPARENT = "traceparent"
OPTIONAL_HEADER_NAMES = (TRACEPARENT,)


def event_headers(envelope: Mapping[str, Any]) -> list[tuple[str, bytes]]:
    """Headers from a JSON envelope; `causation_id` only when it is not null."""
    headers = []
    for name in HEADER_NAMES:
        value = envelope.get(name)
        if value is None:
            if name == "causation_id":
                continue
            raise ValueError(f"envelope field {name} is missing; cannot build headers")
        headers.append((name, str(value).encode("utf-8")))
    return headers


def decode_headers(
    headers: list[tuple[str, str | bytes | None]] | dict[str, str | bytes | None] | None,
) -> dict[str, str]:
    items = headers.items() if isinstance(headers, dict) else headers or []
    return {k: v.decode("utf-8") if isinstance(v, bytes) else str(v) for k, v in items}


def header(
    headers: list[tuple[str, str | bytes | None]] | dict[str, str | bytes | None] | None,
    name: str,
) -> str | None:
    """One header's value as `decode_headers` gives it (the last of that name; None when it
    is absent or has no value), without decoding the others: the filter-by-header step of a
    consumer that skips most records."""
    found: str | bytes | None = None
    for key, value in (headers.items() if isinstance(headers, dict) else headers or ()):
        if key == name:
            found = value
    if found is None:
        return None
    return found.decode("utf-8") if isinstance(found, bytes) else str(found)
