"""Append validated events to the outbox inside the caller's transaction.

The writer commits nothing: the event becomes visible exactly when the business rows do.
Before inserting it takes a transaction-scoped advisory lock on the record key, so two
transactions writing the same conversation serialize and, per key, id order equals commit
order — the relay can then publish a key's visible rows by id without reordering it.

Lock order. A transaction that also locks rows of a conversation (its thread, its reaction
memory) calls `lock` for the conversation's key *before* locking those rows; `append` then
re-takes the same lock (advisory locks are re-entrant within a transaction), so the key lock
is never requested while such a row lock is held and the two cannot form a cycle.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from opentelemetry.trace import SpanKind
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from nmc.contract.envelope import Envelope, new_event, parse_event
from nmc.contract.errors import FieldError, InvalidEvent
from nmc.contract.keys import record_key
from nmc.contract.majors import (
    MajorStep,
    MajorStepError,
    convert,
    major_step,
    majors_to_write,
    payload_defaults,
)
from nmc.contract.schemas import SchemaCatalog, default_catalog
from nmc.infra import tracing
from nmc.infra.db import execute_columns, unnest_rows
from nmc.infra.schema_registry import registry_client
from nmc.infra.settings import ServiceSettings
from producers.outbox.config import OutboxConfig, stored_values
from producers.outbox.settings import OutboxSettings
from producers.outbox.table import outbox_events
from producers.outbox.values import StoredValues

_KEY_LOCKS = text(
    "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(CAST(:keys AS text[])) AS k"
)


_COLUMNS = (
    ("event_id", "uuid"), ("event_name", "text"), ("schema_version", "text"),
    ("tenant_id", "uuid"), ("correlation_id", "uuid"), ("causation_id", "uuid"),
    ("occurred_at", "timestamptz"), ("payload", "jsonb"), ("topic", "text"),
    ("record_key", "text"), ("avro_value", "bytea"),
)


def _insert(columns: Sequence[tuple[str, str]]) -> str:
    """One statement whatever the batch size; ids follow the given order (`unnest_rows`)."""
    return (
        f"INSERT INTO {outbox_events.name} ({', '.join(name for name, _ in columns)}) "
        f"{unnest_rows(columns)} ON CONFLICT (event_id, schema_major) DO NOTHING "
        "RETURNING event_id, schema_version"
    )


_INSERT = _insert(_COLUMNS)
# With trace context (nmc.infra.tracing): a second statement, so an untraced write is unchanged.
_INSERT_TRACED = _insert((*_COLUMNS, ("traceparent", "text")))
_TRACER = tracing.tracer("outbox")


def _columns(batch: Sequence[Envelope], values: StoredValues | None,
             suffix: str) -> dict[str, list[Any]]:
    """The batch as one list per column (the parameters of `_INSERT`)."""
    topics = [e.topic + suffix for e in batch]
    return {
        "event_id": [e.event_id for e in batch],
        "event_name": [e.event_name for e in batch],
        "schema_version": [e.schema_version for e in batch],
        "tenant_id": [e.tenant_id for e in batch],
        "correlation_id": [e.correlation_id for e in batch],
        "causation_id": [e.causation_id for e in batch],
        "occurred_at": [e.occurred_at for e in batch],
        "payload": [json.dumps(e.payload) for e in batch],
        "topic": topics,
        "record_key": [e.key for e in batch],
        "avro_value": ([None] * len(batch) if values is None
                       else [values.value(e, t) for e, t in zip(batch, topics, strict=True)]),
    }


def too_far_ahead(
    events: Sequence[Envelope], now: datetime, max_future_s: float
) -> list[FieldError]:
    """`occurred_at` values Kafka would refuse (pure): further ahead of `now` than allowed.

    The broker refuses a record timestamp more than `log.message.timestamp.after.max.ms` ahead
    (INVALID_TIMESTAMP), so such an event could never be published; refuse it at the source.
    """
    limit = now + timedelta(seconds=max_future_s)
    errors = []
    for i, event in enumerate(events):
        if event.occurred_at > limit:
            ahead = (event.occurred_at - now).total_seconds()
            field = "occurred_at" if len(events) == 1 else f"events[{i}].occurred_at"
            errors.append(FieldError(
                field,
                f"{ahead:,.0f}s in the future; at most {max_future_s:,.0f}s ahead is accepted "
                "(Kafka refuses record timestamps beyond log.message.timestamp.after.max.ms)",
            ))
    return errors


def with_majors(events: Sequence[Envelope], catalog: SchemaCatalog,
                dual_publish: Mapping[str, Any], retired: Mapping[str, Any],
                ) -> tuple[list[Envelope], list[FieldError]]:
    """The rows one writer call stages: each event at every major it is written in (pure).

    Outside a transition window that is the event itself. Inside one (`dual_publish` names
    the event), each other major is a copy with the same event_id, key and envelope, that
    major's `schema_version`, and the payload carried across by the newer file's
    `nmc.previous_major` (`nmc.contract.majors`), validated against that major's schema.
    Copies come oldest major first, right beside each other, so they share a key's place in
    line. `retired` majors are never written.
    """
    out: list[Envelope] = []
    errors: list[FieldError] = []
    for i, event in enumerate(events):
        where = "schema_version" if len(events) == 1 else f"events[{i}].schema_version"
        majors, refused = majors_to_write(event.event_name, event.major, dual_publish, retired)
        errors.extend(FieldError(where, e.reason) for e in refused)
        for major in majors:
            if major == event.major:
                out.append(event)
                continue
            copy = _copy_at(event, major, catalog, where, errors)
            if copy is not None:
                out.append(copy)
    return out, errors


def _copy_at(event: Envelope, major: int, catalog: SchemaCatalog, where: str,
             errors: list[FieldError]) -> Envelope | None:
    target = catalog.get(event.event_name, major)
    if target is None:
        errors.append(FieldError(where, f"{event.event_name} is to be written at major "
                                        f"{major} (NMC_DUAL_PUBLISH) but this producer has "
                                        f"no {major} schema file"))
        return None
    steps: dict[int, MajorStep] = {}
    defaults: dict[int, dict[str, Any]] = {}
    for schema in catalog:
        if schema.event_name == event.event_name:
            step = major_step(schema.raw, schema.major)
            if step is not None:
                steps[schema.major] = step
            defaults[schema.major] = payload_defaults(schema.payload_fields)
    try:
        payload = convert(event.payload, steps, defaults, event.major, major)
        return parse_event({**event.to_json(), "schema_version": target.version,
                            "payload": payload}, catalog)
    except MajorStepError as exc:
        errors.append(FieldError(where, str(exc)))
    except InvalidEvent as exc:
        errors.extend(FieldError(f"{where}@{major}", f"{e.field}: {e.reason}")
                      for e in exc.errors)
    return None


def lock_keys(db: Session | Connection, *keys: str) -> None:
    """Take the transaction-scoped advisory lock(s) `OutboxWriter.append` takes for these
    record keys (sorted, so two callers cannot deadlock on them); held until commit or rollback.

    Call it first in a transaction that locks a conversation's rows and then appends to that
    conversation: key lock, then rows (producers/edges/README.md, lock order)."""
    if keys:
        db.execute(_KEY_LOCKS, {"keys": sorted(set(keys))})


class OutboxWriter:
    """Writes events through the caller's SQLAlchemy session or connection.

    What it needs comes from its composition root: `config` (`OutboxConfig`, built from
    `OutboxSettings` once) and `values`, or both at once through `from_settings` (the
    encoder's registry client then belongs to the writer, which the root owns and shares).
    A writer reads no settings itself: a bare `OutboxWriter()` (tests, tools) applies the
    defaults of `OutboxSettings`' fields and stores no values.

    `max_future_s` (default: the config's) bounds how far ahead of this host's clock an
    `occurred_at` may be. `values` encodes each row's stored Avro value (default: none); rows
    get NULL while it does not know the schema id, and the relay encodes those; an event whose
    version it knows is not registered is refused. `topic_suffix` is appended to every topic
    (isolated copies of the domain topics: tests, demos).

    `dual_publish` and `retired` (default: the config's) say at which majors an event is
    written (`with_majors`); `catalog` (default: the values' catalog, else the package's
    schemas) holds the files of those majors.
    """

    def __init__(self, max_future_s: float | None = None,
                 values: StoredValues | None = None, topic_suffix: str = "",
                 dual_publish: Mapping[str, list[int]] | None = None,
                 retired: Mapping[str, list[int]] | None = None,
                 catalog: SchemaCatalog | None = None, *,
                 config: OutboxConfig | None = None) -> None:
        self._config = config
        self._max_future_s = max_future_s
        self._values = values
        self._topic_suffix = topic_suffix
        self._dual_publish = dual_publish
        self._retired = retired
        self._catalog = catalog

    @classmethod
    def from_settings(cls, settings: OutboxSettings, services: ServiceSettings,
                      topic_suffix: str = "", catalog: SchemaCatalog | None = None) -> OutboxWriter:
        """A composition root's writer: its config from `settings`, and its own stored-value
        encoder (built now, its registry client from `services`, its lookups started in the
        background). Build one per process and share it: every writer built this way looks
        each subject up again."""
        config = OutboxConfig.from_settings(settings)
        values = stored_values(config, lambda: registry_client(services))
        return cls(values=values, topic_suffix=topic_suffix, catalog=catalog, config=config)

    def _configured(self) -> None:
        """Fill what the constructor left open from the config (the defaults if none)."""
        if self._max_future_s is None or self._dual_publish is None or self._retired is None:
            config = self._config = self._config or OutboxConfig.defaults()
            if self._max_future_s is None:
                self._max_future_s = config.max_future_s
            if self._dual_publish is None or self._retired is None:
                self._dual_publish = config.dual_publish
                self._retired = config.retired

    def lock(self, db: Session | Connection, *keys: str) -> None:
        """`lock_keys` (the writer's configuration plays no part in it)."""
        lock_keys(db, *keys)

    def lock_conversation(self, db: Session | Connection, tenant_id: UUID,
                          correlation_id: UUID) -> None:
        """`lock_keys` for the record key `tenant_id:correlation_id`."""
        lock_keys(db, record_key(tenant_id, correlation_id))

    def append(self, db: Session | Connection, event: Envelope) -> bool:
        """Stage one event; returns False when its `event_id` is already in the outbox."""
        return self.append_all(db, [event]) == 1

    def append_all(self, db: Session | Connection, events: Iterable[Envelope],
                   traceparents: Sequence[str | None] | None = None, *,
                   locked: bool = False) -> int:
        """Stage several events, in their given order, in one statement; returns how many
        were new (an `event_id` already in the outbox at that major is skipped, not an error;
        copies written for a transition window are not counted).

        Trace context: `traceparents` (one per event) is stored with each row as given — a
        consumer writing the effects of several facts passes each fact's span. Without it, a
        process that traces (`nmc.infra.tracing`) records an `outbox append` span, a child of
        the current span (the webhook's, the send's), and every row carries it.

        Key locks are taken in sorted key order first so that two transactions touching the
        same keys cannot deadlock on them; `locked=True` says the caller took them already, in
        this transaction, for every event's key (`lock`: a batch that locks its conversations
        before their rows), and skips taking them again.

        Raises `InvalidEvent` (nothing written) when an `occurred_at` is further ahead than
        the broker would accept, or when the registry answered that an event's schema version
        is not registered (the error names the subject and the version).
        """
        batch = batch_in = list(events)
        if not batch:
            return 0
        self._configured()
        assert self._max_future_s is not None
        assert self._dual_publish is not None and self._retired is not None
        errors = too_far_ahead(batch, datetime.now(UTC), self._max_future_s)
        if errors:
            raise InvalidEvent(errors)
        values, suffix = self._values, self._topic_suffix
        if self._dual_publish or self._retired:
            if self._catalog is None:
                self._catalog = values.catalog if values is not None else default_catalog()
            callers = {(e.event_id, e.schema_version) for e in batch}
            batch, errors = with_majors(batch, self._catalog, self._dual_publish,
                                        self._retired)
            if errors:
                raise InvalidEvent(errors)
        else:
            callers = None
        if values is not None:
            refused = [(i, values.refusal(e, e.topic + suffix)) for i, e in enumerate(batch)]
            unregistered = [
                FieldError("schema_version" if len(batch) == 1 else f"events[{i}].schema_version",
                           why)
                for i, why in refused if why is not None
            ]
            if unregistered:
                raise InvalidEvent(unregistered)
        if not locked:
            self.lock(db, *{e.key for e in batch})
        if traceparents is not None:
            given = dict(zip((e.event_id for e in batch_in), traceparents, strict=True))
            inserted = self._insert_traced(db, batch, values, suffix,
                                           [given.get(e.event_id) for e in batch])
        elif tracing.enabled():
            with _TRACER.start_as_current_span(
                    "outbox append", kind=SpanKind.PRODUCER,
                    attributes={"nmc.outbox.rows": len(batch),
                                "nmc.event_names": sorted({e.event_name for e in batch})},
            ) as span:
                inserted = self._insert_traced(db, batch, values, suffix,
                                               [tracing.traceparent_of(span)] * len(batch))
        else:
            inserted = execute_columns(db, _INSERT, _columns(batch, values, suffix)).all()
        if callers is None:
            return len(inserted)
        return sum(1 for row in inserted if (row[0], row[1]) in callers)

    @staticmethod
    def _insert_traced(db: Session | Connection, batch: Sequence[Envelope],
                       values: StoredValues | None, suffix: str,
                       traceparents: list[str | None]) -> Sequence[Any]:
        columns = _columns(batch, values, suffix)
        columns["traceparent"] = traceparents
        return execute_columns(db, _INSERT_TRACED, columns).all()


def emit(session: Session, writer: OutboxWriter, name: str, tenant_id: UUID,
         correlation_id: UUID, payload: dict[str, Any], now: datetime,
         causation_id: UUID | None = None, event_id: UUID | None = None) -> Envelope:
    """Build one event and append it through `writer` (its root's) in the caller's transaction
    (the domain commands' step)."""
    event = new_event(name, tenant_id=tenant_id, correlation_id=correlation_id,
                      causation_id=causation_id, occurred_at=now, payload=payload,
                      event_id=event_id)
    writer.append(session, event)
    return event
