"""Values in the Confluent wire format decoded with fastavro, the writer schema parsed once per id.

Source topics are read as raw bytes and the projector decodes them itself, so a record that
cannot be decoded reaches the dead-letter path instead of failing inside Faust's consumer.

Why not confluent-kafka's `AvroDeserializer` (DESIGN.md §6 suggests it): per record it walks
the whole writer schema for inline tags and builds a serialization context, ~150 µs of Python
per event, most of a worker's decode cost. This decoder does what it does for our schemas
(fastavro `schemaless_reader` against the writer schema, no reader schema), with the registry
lookup done once per schema id through confluent's `SchemaRegistryClient`;
`tests/integration/test_streams_codec_registry.py` checks both agree on every event of the catalog.
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
from nmc.contract.wire import FRAME_HEADER_SIZE, require_schema_id


class AvroDecoder:
    """Callable `bytes -> record`; thread-safe enough for one worker thread per batch.

    `lookup(schema_id)` returns the writer schema's JSON text. A lookup error propagates as is,
    so the projector can tell an outage (retry) from a 404 (dead-letter)."""

    def __init__(self, lookup: Callable[[int], str]) -> None:
        self._lookup = lookup
        self._schemas: dict[int, Any] = {}

    def __call__(self, value: bytes) -> Any:
        schema_id = require_schema_id(value)  # UnframedValue, a PoisonEvent
        schema = self._schemas.get(schema_id)
        if schema is None:
            # own named-type namespace per id: two versions may define the same record names
            schema = parse_schema(json.loads(self._lookup(schema_id)), named_schemas={})
            self._schemas[schema_id] = schema
        stream = BytesIO(value)
        stream.seek(FRAME_HEADER_SIZE)
        return schemaless_reader(stream, schema, None)


def registry_decoder(client: SchemaRegistryClient) -> AvroDecoder:
    """A decoder whose writer schemas come from the registry (confluent's client caches too)."""

    def lookup(schema_id: int) -> str:
        text = client.get_schema(schema_id).schema_str
        if not text:
            raise PoisonEvent(f"registry schema {schema_id} has no schema text")
        return text

    return AvroDecoder(lookup)
