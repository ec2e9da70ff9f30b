"""Values in the Confluent wire format decoded with fastavro, the writer schema parsed once per id.

The stream apps and the reactor read source topics as raw bytes and decode them themselves,
so a record that cannot be decoded reaches the dead-letter path instead of failing inside a
consumer library.

Why not confluent-kafka's `AvroDeserializer` (DESIGN.md §6 suggests it): per record it walks
the whole writer schema for inline tags and builds a serialization context, ~150 µs of Python
per event, most of a worker's (and the reactor's) decode cost. This decoder does what it does
for our schemas (fastavro `schemaless_reader` against the writer schema, no reader schema),
with the registry lookup done once per schema id through confluent's `SchemaRegistryClient`;
`tests/integration/test_streams_codec_registry.py` checks both agree on every event of the
catalog.
The framing (constants, `UnframedValue`) is the contract's, shared with the producers
(nmc/contract/wire.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from io import BytesIO
from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient
from fastavro import parse_schema, schemaless_reader

from nmc.contract.facts import PoisonEvent
from nmc.contract.majors import MajorStep, MajorStepError, major_step, to_previous
from nmc.contract.wire import FRAME_HEADER_SIZE, require_schema_id


def _major(raw: Any) -> int:
    namespace = str(raw.get("namespace", "")) if isinstance(raw, dict) else ""
    last = namespace.rsplit(".", 1)[-1]
    return int(last[1:]) if last.startswith("v") and last[1:].isdigit() else 1


class AvroDecoder:
    """Callable `bytes -> record`; thread-safe enough for one worker thread per batch.

    `lookup(schema_id)` returns the writer schema's JSON text. A lookup error propagates as is,
    so the projector can tell an outage (retry) from a 404 (dead-letter).

    `payload_major`: the major the caller's code reads (the stream apps' reducers: 1). A
    record of the next major has its payload carried back through the `nmc.previous_major`
    its writer schema declares (`nmc.contract.majors`), so both copies of a fact published
    in a transition window reduce to the same fact, whichever arrives first. None: payloads
    as written."""

    def __init__(self, lookup: Callable[[int], str], payload_major: int | None = None) -> None:
        self._lookup = lookup
        self._payload_major = payload_major
        self._schemas: dict[int, tuple[Any, int, MajorStep | None]] = {}

    def __call__(self, value: bytes) -> Any:
        schema_id = require_schema_id(value)  # UnframedValue, a PoisonEvent
        known = self._schemas.get(schema_id)
        if known is None:
            raw = json.loads(self._lookup(schema_id))
            major = _major(raw)
            try:
                step = major_step(raw, major) if isinstance(raw, dict) else None
            except MajorStepError as exc:
                raise PoisonEvent(f"writer schema {schema_id}: {exc}") from exc
            # own named-type namespace per id: two versions may define the same record names
            known = (parse_schema(raw, named_schemas={}), major, step)
            self._schemas[schema_id] = known
        schema, major, step = known
        stream = BytesIO(value)
        stream.seek(FRAME_HEADER_SIZE)
        record = schemaless_reader(stream, schema, None)
        wanted = self._payload_major
        if wanted is None or major == wanted or not isinstance(record, dict):
            return record
        if major != wanted + 1 or step is None:
            raise PoisonEvent(
                f"record of major {major} (schema {schema_id}); this reader reads major "
                f"{wanted} and can carry back only one declared nmc.previous_major step")
        record["payload"] = to_previous(record["payload"], step)
        return record


def registry_decoder(client: SchemaRegistryClient,
                     payload_major: int | None = None) -> AvroDecoder:
    """A decoder whose writer schemas come from the registry (confluent's client caches too)."""

    def lookup(schema_id: int) -> str:
        text = client.get_schema(schema_id).schema_str
        if not text:
            raise PoisonEvent(f"registry schema {schema_id} has no schema text")
        return text

    return AvroDecoder(lookup, payload_major)
