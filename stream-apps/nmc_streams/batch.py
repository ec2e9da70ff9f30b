"""The per-batch policy of a stream app, behind ports, so it runs without Faust or Kafka.

`BatchProjector.handle(records)` decodes a batch, plans every record key's facts with the app's
`FlowModel`, and writes entity states and read-model rows in **one** PostgreSQL transaction
(on a worker thread: the event loop keeps heartbeating and committing meanwhile). It returns
only when every record is durable — projected, a known duplicate, ignored, or dead-lettered —
so the caller may then acknowledge the whole batch.

Failures are sorted by `is_transient`: an outage (PostgreSQL down, registry unreachable) is
retried with full-jitter backoff for as long as it lasts, blocking the batch, never
dead-lettering; an event that can never be processed (undecodable bytes, an unknown schema id,
a payload the model rejects, a value PostgreSQL refuses) is isolated and dead-lettered alone
while the rest of its batch proceeds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import SerializationError
from opentelemetry.trace import SpanKind, StatusCode
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    retry_if_exception_type,
    wait_random_exponential,
)

from nmc.contract import dead_letter
from nmc.contract.facts import Fact, PoisonEvent, to_fact
from nmc.infra import tracing
from nmc_streams.flows import FlowModel, KeyPlan, needed, plan_key, state_version
from nmc_streams.metrics import StreamMetrics
from nmc_streams.state import FLOW, Entity

log = logging.getLogger(__name__)

T = TypeVar("T")
Rows = dict[str, list[dict[str, Any]]]
StateWrite = dict[tuple[str, str], tuple[dict[str, Any], int]]


@dataclass(frozen=True)
class Record:
    """The transport-neutral view of one consumed record."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Mapping[str, str]


class StateStore(Protocol):
    """Where entity states and read models live (PostgreSQL, or memory in unit tests)."""

    def load(self, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]: ...

    def write(self, states: StateWrite, rows: Rows) -> None:
        """States and rows in one transaction: both or neither."""


class DeadLetterSink(Protocol):
    """Where events that can never be processed go (DESIGN.md §2: topic and table)."""

    async def __call__(
        self, record: Record, fact: Fact | None, error: str, attempts: int
    ) -> None: ...


_PERMANENT_DB_ERRORS = ("DataError", "IntegrityError", "ProgrammingError", "NotSupportedError")


def is_transient(exc: BaseException, stage: str) -> bool:
    """True when retrying can help (an outage), False for a fault of the event itself.

    Decoding: only a registry that cannot answer is an outage (a 5xx, a timeout, a refused
    connection); a 404 means the record names a schema id the registry does not have and
    never will, and bytes that do not parse stay unparseable. Loads and writes: PostgreSQL
    errors are outages except those that name the data (DataError, IntegrityError, ...)."""
    if isinstance(exc, PoisonEvent | SerializationError):
        return False
    if stage == "decode":
        if isinstance(exc, SchemaRegistryError):
            return exc.http_status_code != 404
        names = {cls.__name__ for cls in type(exc).__mro__}
        return isinstance(exc, OSError | TimeoutError) or "TransportError" in names
    orig = getattr(exc, "orig", None)  # SQLAlchemy's DBAPIError wraps the driver's error
    names = {cls.__name__ for cls in type(orig or exc).__mro__}
    if isinstance(exc, KeyError | TypeError | ValueError) and orig is None:
        return False
    return not names.intersection(_PERMANENT_DB_ERRORS)


@dataclass(frozen=True)
class Undecodable:
    """A record's decode failure that retrying cannot mend (it goes to the dead-letter path)."""

    error: Exception


def one_line(exc: BaseException) -> str:
    """`Type: message` on one line (the dead-letter contract's `dlq_error`)."""
    return dead_letter.one_line(f"{type(exc).__name__}: {exc}")


class BatchProjector:
    """Decode, plan, write, dead-letter; see the module docstring for the guarantees."""

    def __init__(
        self,
        app: str,
        model: FlowModel,
        store: StateStore,
        decode: Callable[[bytes], Any],
        dead_letter: DeadLetterSink,
        metrics: StreamMetrics,
        *,
        retry_base_s: float = 0.2,
        retry_max_s: float = 10.0,
        run: Callable[..., Awaitable[Any]] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.app = app
        self.model = model
        self.store = store
        self.decode = decode
        self.dead_letter = dead_letter
        self.metrics = metrics
        self.retry_base_s = retry_base_s
        self.retry_max_s = retry_max_s
        self.run = run or asyncio.to_thread
        self.sleep = sleep

    def _retrying(self, retry: Any, what: str) -> AsyncRetrying:
        """Full-jitter exponential backoff (tenacity's `wait_random_exponential`), no limit on
        attempts: an outage is waited out, however long, with a metric and a log line."""

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            self.metrics.transient.labels(self.app, what).inc()
            log.warning(
                "%s: %s failed (attempt %d), retrying in %.2fs: %s",
                self.app, what, state.attempt_number,
                state.next_action.sleep if state.next_action else 0.0,
                one_line(exc) if exc else "",
            )

        return AsyncRetrying(
            retry=retry,
            wait=wait_random_exponential(multiplier=self.retry_base_s, max=self.retry_max_s),
            sleep=self.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )

    async def _until_done(self, what: str, call: Callable[..., T], *args: Any) -> T:
        """Run `call` on a worker thread until it succeeds; transient errors are retried,
        anything else is raised to the caller (who isolates the culprit)."""
        retry = retry_if_exception(lambda exc: is_transient(exc, what))
        async for attempt in self._retrying(retry, what):
            with attempt:
                result: T = await self.run(call, *args)
        return result

    def _decode_all(self, records: Sequence[Record]) -> list[Any]:
        """Every record's decoded value, or the `Undecodable` it is. One call per batch (one
        worker-thread hop, not one per record); a transient failure is raised, so the whole
        decode is retried, and already-fetched schemas make the retry cheap."""
        out: list[Any] = []
        for record in records:
            try:
                if record.value is None:
                    raise PoisonEvent("record has no value (tombstone)")
                out.append(self.decode(record.value))
            except Exception as exc:
                if is_transient(exc, "decode"):
                    raise
                out.append(Undecodable(exc))
        return out

    async def handle(self, records: Sequence[Record]) -> list[str]:
        """Outcome per record: applied | duplicate | ignored | dead-lettered."""
        started_ns = time.time_ns() if tracing.enabled() else 0
        outcomes: dict[int, str] = {}
        facts: list[tuple[int, Fact]] = []
        poison: list[tuple[int, Fact | None, str]] = []
        decoded = await self._until_done("decode", self._decode_all, records)
        for i, value in enumerate(decoded):
            try:
                if isinstance(value, Undecodable):
                    raise value.error
                fact = to_fact(value)
            except Exception as exc:
                poison.append((i, None, f"permanent: {one_line(exc)}"))
                continue
            if fact.name not in self.model.events:
                outcomes[i] = "ignored"
            else:
                facts.append((i, fact))
        by_key: dict[str, list[tuple[int, Fact]]] = {}
        for i, fact in facts:
            by_key.setdefault(fact.key, []).append((i, fact))
        loaded = await self._load(by_key)
        plans: list[tuple[KeyPlan, list[tuple[int, Fact]]]] = []
        for key, entries in by_key.items():
            try:
                plans.append((plan_key(self.model, key, [f for _, f in entries], loaded[key]),
                              entries))
            except Exception:
                plan, bad = self._isolate_plan(key, entries, loaded[key])
                poison += bad
                plans.append((plan, [e for e in entries if e[0] not in {b[0] for b in bad}]))
        try:
            await self._until_done("write", self.store.write, *_merge([p for p, _ in plans]))
        except Exception as exc:
            log.warning("%s: batch write refused (%s); writing key by key", self.app, one_line(exc))
            poison += await self._write_key_by_key(plans, loaded)
        for plan, entries in plans:
            applied = {id(f) for f in plan.applied}
            for i, fact in entries:
                outcomes.setdefault(i, "applied" if id(fact) in applied else "duplicate")
        for i, culprit, error in poison:
            await self._dead_letter(records[i], culprit, error)
            outcomes[i] = "dead-lettered"
        counts: dict[tuple[str, str], int] = {}  # one counter update per label set, not per event
        for i, record in enumerate(records):
            counts[(record.topic, outcomes[i])] = counts.get((record.topic, outcomes[i]), 0) + 1
        for (topic, outcome), n in counts.items():
            self.metrics.processed.labels(self.app, topic, outcome).inc(n)
        result = [outcomes[i] for i in range(len(records))]
        if started_ns:
            project_spans(self.app, records, result, started_ns)
        return result

    async def _load(
        self, by_key: Mapping[str, list[tuple[int, Fact]]]
    ) -> dict[str, dict[str, Entity]]:
        """Every entity the batch touches, plus what the model asks for after seeing flows."""
        wanted = needed(self.model, (f for entries in by_key.values() for _, f in entries))
        raw = await self._until_done("load", self.store.load, wanted)
        loaded: dict[str, dict[str, Entity]] = {key: {} for key in by_key}
        for (key, entity), data in raw.items():
            loaded[key][entity] = Entity.from_json(data)
        extra: set[tuple[str, str]] = set()
        for key, entries in by_key.items():
            flow = loaded[key].get(FLOW, Entity())
            for entity in self.model.extra_entities(flow, [f for _, f in entries]):
                if entity not in loaded[key]:
                    extra.add((key, entity))
        if extra:
            raw = await self._until_done("load", self.store.load, extra)
            for (key, entity), data in raw.items():
                loaded[key][entity] = Entity.from_json(data)
        return loaded

    def _isolate_plan(
        self, key: str, entries: list[tuple[int, Fact]], loaded: Mapping[str, Entity]
    ) -> tuple[KeyPlan, list[tuple[int, Fact | None, str]]]:
        """Add the key's facts one at a time; a fact the model rejects is left out."""
        good: list[Fact] = []
        bad: list[tuple[int, Fact | None, str]] = []
        plan = KeyPlan(key)
        for i, fact in entries:
            try:
                plan = plan_key(self.model, key, [*good, fact], loaded)
                good.append(fact)
            except Exception as exc:
                bad.append((i, fact, f"permanent: {one_line(exc)}"))
        return plan, bad

    async def _write_key_by_key(
        self,
        plans: list[tuple[KeyPlan, list[tuple[int, Fact]]]],
        loaded: Mapping[str, Mapping[str, Entity]],
    ) -> list[tuple[int, Fact | None, str]]:
        """After a batch write PostgreSQL refused: each key alone, then fact by fact."""
        bad: list[tuple[int, Fact | None, str]] = []
        for n, (plan, entries) in enumerate(plans):
            try:
                await self._until_done("write", self.store.write, *_merge([plan]))
                continue
            except Exception as exc:
                log.warning("%s: key %s refused (%s); fact by fact", self.app, plan.key,
                            one_line(exc))
            good: list[Fact] = []
            last = KeyPlan(plan.key)
            for i, fact in entries:
                try:
                    attempt = plan_key(self.model, plan.key, [*good, fact], loaded[plan.key])
                    await self._until_done("write", self.store.write, *_merge([attempt]))
                    good.append(fact)
                    last = attempt
                except Exception as exc:
                    bad.append((i, fact, f"permanent: {one_line(exc)}"))
            plans[n] = (last, [e for e in entries if e[0] not in {b[0] for b in bad}])
        return bad

    async def _dead_letter(self, record: Record, fact: Fact | None, error: str) -> None:
        """Retried until both the topic and the table have it (never dropped silently)."""
        async for attempt in self._retrying(retry_if_exception_type(Exception), "dead-letter"):
            with attempt:
                await self.dead_letter(record, fact, error, 1)
        self.metrics.dead_lettered.labels(self.app, record.topic).inc()


def _merge(plans: Sequence[KeyPlan]) -> tuple[StateWrite, Rows]:
    states: StateWrite = {}
    rows: Rows = {}
    for plan in plans:
        for name, entity in plan.entities.items():
            states[(plan.key, name)] = (entity.to_json(), state_version(entity))
        for table, table_rows in plan.rows.items():
            rows.setdefault(table, []).extend(table_rows)
    return states, rows


_TRACER = tracing.tracer("streams")


def project_spans(app: str, records: Sequence[Record], outcomes: Sequence[str],
                  started_ns: int) -> None:
    """Once a batch is durable: a `project` span per record that came with a trace context,
    a child of its publish span, covering the batch's time (its read models were written in
    the batch's one transaction). A span per event, not one per batch with links, so each
    event's trace reaches its read model as a parent/child chain; records without a context
    cost nothing, and nothing at all runs while tracing is off."""
    for record, outcome in zip(records, outcomes, strict=True):
        parent = tracing.parent_from(record.headers.get(tracing.HEADER))
        if parent is None:
            continue
        name = record.headers.get("event_name", "")
        span = _TRACER.start_span(
            f"project {name.rsplit('.', 1)[-1]}", context=parent, kind=SpanKind.CONSUMER,
            start_time=started_ns,
            attributes={"nmc.app": app, "nmc.outcome": outcome, "nmc.event_name": name,
                        "nmc.event_id": record.headers.get("event_id", ""),
                        "messaging.system": "kafka",
                        "messaging.destination.name": record.topic,
                        "messaging.destination.partition.id": str(record.partition),
                        "messaging.kafka.offset": record.offset})
        if outcome == "dead-lettered":
            span.set_status(StatusCode.ERROR, "dead-lettered")
        span.end()
