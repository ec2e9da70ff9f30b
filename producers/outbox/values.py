"""The framed Avro value the outbox writer stores beside each row (`avro_value`).

Encoding at write time, where the event is already validated, spares the relay its largest
per-row cost. The value needs the subject's registry schema id, and the writer's transaction
must never wait on the registry: ids are looked up in a background thread (lookup only — this
never registers a schema), and until a subject's id is known, rows are stored without a value
(NULL) and the relay encodes them itself. A subject that is unknown or a registry that cannot be
reached is asked again after `retry_s`. The cache belongs to the process that filled it: after
`os.fork` the child starts afresh (it inherits no thread).

The value is only ever the encoding of the event's own `schema_version` (the writer's file must
have exactly that version). Once the registry has answered that the file's version is not
registered under its subject, `refusal` says so and the writer refuses the event: a producer
must not write a version no consumer can look up. `preload` asks for every subject at start-up,
so that answer is usually known before the first write.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from nmc.contract.envelope import Envelope
from nmc.contract.schemas import EventSchema, SchemaCatalog, default_catalog, subject_for
from nmc.contract.wire import SchemaEncoder

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)

# subject, schema text -> registered id, or None when the subject does not have it; raises
# when the registry cannot answer.
Lookup = Callable[[str, str], int | None]


def registry_lookup(client_factory: Callable[[], SchemaRegistryClient]) -> Lookup:
    """A `Lookup` against a registry: `lookup_schema` only, never `register_schema`."""

    def lookup(subject: str, schema_str: str) -> int | None:
        client = client_factory()
        try:
            registered = client.lookup_schema(
                subject, Schema(schema_str, "AVRO"), normalize_schemas=False
            )
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                return None
            raise
        finally:
            client.close()
        return registered.schema_id

    return lookup


@dataclass(slots=True)
class _Fields:
    """An envelope as the encoder reads a row (`nmc.contract.wire.AvroFields`)."""

    event_id: str
    event_name: str
    schema_version: str
    tenant_id: str
    correlation_id: str
    causation_id: str | None
    occurred_ms: int
    payload: Any


_text = lru_cache(maxsize=1 << 16)(str)
"""str of a tenant or conversation id: the same few recur across a batch's events."""


def avro_fields(event: Envelope) -> _Fields:
    """The encoder's view of an envelope (pure); `occurred_ms` floored to the millisecond as
    the relay's fetch does, so both encode the same instant."""
    return _Fields(
        str(event.event_id), event.event_name, event.schema_version, _text(event.tenant_id),
        _text(event.correlation_id),
        None if event.causation_id is None else str(event.causation_id),
        (event.occurred_at - _EPOCH) // _MILLISECOND, event.payload,
    )


class StoredValues:
    """Framed values for the writer; schema ids resolved in the background, never waited for.

    `lookup` resolves a subject's id (see `registry_lookup`); `retry_s` is how long an unknown
    subject or an unreachable registry is left alone before the next lookup.
    """

    def __init__(self, lookup: Lookup, retry_s: float = 30.0,
                 catalog: SchemaCatalog | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._lookup = lookup
        self._retry_s = retry_s
        self._catalog = catalog or default_catalog()
        self._clock = clock
        self._reset()

    @property
    def catalog(self) -> SchemaCatalog:
        """The schema files whose values this encodes (the writer's own files)."""
        return self._catalog

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._encoders: dict[str, SchemaEncoder] = {}  # subject -> encoder with its id
        self._unregistered: dict[str, str] = {}  # subject -> the version it lacks
        self._asking: set[str] = set()  # subjects being looked up right now
        self._retry_at: dict[str, float] = {}
        self._threads: list[threading.Thread] = []
        # (event name, version, topic) -> its schema file and subject (None: no such file)
        self._subjects: dict[tuple[str, str, str], tuple[EventSchema, str] | None] = {}

    def value(self, event: Envelope, topic: str | None = None) -> bytes | None:
        """The event's framed value on `topic` (default: its domain topic), or None when its
        schema id is not known (yet) or the event does not encode (the relay then reports
        why). Never blocks on the registry."""
        if os.getpid() != self._pid:
            self._reset()  # a forked child: the parent's lookup thread does not exist here
        found = self._subject(event, topic)
        if found is None:
            return None
        schema, subject = found
        encoder = self._encoders.get(subject)
        if encoder is None:
            self._ask(schema, subject)
            return None
        try:
            return encoder.value(avro_fields(event))
        except (ValueError, TypeError, KeyError, AttributeError):
            return None

    def refusal(self, event: Envelope, topic: str | None = None) -> str | None:
        """Why this event must not be written (None: it may): the registry answered that its
        version is not registered under the subject. Unknown answers do not refuse."""
        found = self._subject(event, topic)
        if found is None:
            return None
        subject = found[1]
        if subject not in self._unregistered:
            return None
        return (f"{event.event_name} {event.schema_version} is not registered under subject "
                f"{subject} (register it first: `nmc schemas register`)")

    def preload(self, topic_suffix: str = "") -> None:
        """Ask for the id of every schema of the catalog (in the background, never waited
        for), on the domain topics plus `topic_suffix`."""
        for schema in self._catalog:
            self._ask(schema, subject_for(schema.topic + topic_suffix, schema.full_name))

    def _subject(self, event: Envelope, topic: str | None) -> tuple[EventSchema, str] | None:
        """The event's schema file and its subject on `topic` (default: its domain topic),
        found once per event name, version and topic (writers ask twice per row)."""
        key = (event.event_name, event.schema_version, topic or event.topic)
        try:
            return self._subjects[key]
        except KeyError:
            schema = self._schema(event.event_name, event.schema_version)
            found = None if schema is None else (schema, subject_for(key[2], schema.full_name))
            self._subjects[key] = found
            return found

    def _schema(self, event_name: str, schema_version: str) -> EventSchema | None:
        """The writer's file of exactly this version (None for any other version)."""
        try:
            major = int(schema_version.split(".", 1)[0])
        except ValueError:
            return None
        schema = self._catalog.get(event_name, major)
        return schema if schema is not None and schema.version == schema_version else None

    def _ask(self, schema: EventSchema, subject: str) -> None:
        with self._lock:
            if (subject in self._encoders or subject in self._asking
                    or self._clock() < self._retry_at.get(subject, 0.0)):
                return
            self._asking.add(subject)
            self._threads = [t for t in self._threads if t.is_alive()]
        thread = threading.Thread(
            target=self._resolve, args=(schema, subject), name="outbox-schema-id", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _resolve(self, schema: EventSchema, subject: str) -> None:
        answered = True
        try:
            schema_id = self._lookup(subject, schema.schema_str)
        except Exception as exc:  # any failure: rows stay NULL, the relay encodes them
            log.info("schema id of %s not looked up (%s); retry in %.0fs",
                     subject, exc, self._retry_s)
            schema_id, answered = None, False
        with self._lock:
            if schema_id is not None:
                self._encoders[subject] = SchemaEncoder(schema, schema_id)
                self._unregistered.pop(subject, None)
            else:
                if answered:
                    log.warning("%s %s is not registered under %s: writes are refused",
                                schema.event_name, schema.version, subject)
                    self._unregistered[subject] = schema.version
                self._retry_at[subject] = self._clock() + self._retry_s
            self._asking.discard(subject)

    def wait(self, timeout_s: float = 10.0) -> None:
        """Wait for the lookups started so far (tests, benchmarks)."""
        for thread in list(self._threads):
            thread.join(timeout_s)
