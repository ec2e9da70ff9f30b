"""Test and benchmark support: isolated copies of the domain topics, event histories,
worker subprocesses and read-model dumps. Imported only by tests and bench/, never by apps.

Isolated topics (`nmc.<domain>.<suffix>`) with the catalog's schemas registered under their
own TopicRecordNameStrategy subjects let each test start its workers from the earliest offset
without reading what other tests and demos left on the shared topics.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from sqlalchemy import Engine, text

from nmc.contract.envelope import Envelope, new_event
from nmc.contract.headers import event_headers
from nmc.contract.schemas import (
    DOMAINS,
    EventSchema,
    SchemaCatalog,
    default_catalog,
    subject_for,
)
from nmc.infra.kafka_clients import ensure_topics, producer_config
from nmc.infra.schema_registry import registry_client, value_serializer
from nmc_streams.apps import APPS
from support.sessions import takeover_session_ms
from support.settings import PlatformSettings as Settings

from .waits import wait_until, watch_log


def synthetic_traceparent() -> str:
    """A valid, sampled W3C `traceparent` naming a random trace and span."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


class IsolatedTopics:
    """Six domain topics with a unique suffix, schemas registered, and a producer for them."""

    def __init__(self, platform: Settings, suffix: str | None = None) -> None:
        self.platform = platform
        self.suffix = suffix or f".t{uuid.uuid4().hex[:10]}"
        self.topics = {d: f"nmc.{d}{self.suffix}" for d in DOMAINS}
        # The histories are event-timed in 2025 and the relay's record timestamp is
        # `occurred_at`: under the broker's time retention (7 days) a retention check during a
        # test deletes every record, and a worker then finds its committed offsets out of range.
        ensure_topics(platform, list(self.topics.values()), config={"retention.ms": "-1"})
        self.registry = registry_client(platform)
        self.serializers: dict[str, tuple[AvroSerializer, Any]] = {}
        for schema in default_catalog():
            topic = self.topics[schema.domain]
            self.registry.register_schema(
                subject_for(topic, schema.full_name), Schema(schema.schema_str, "AVRO")
            )
            self.serializers[schema.event_name] = (value_serializer(self.registry, schema), schema)
        self.producer = Producer(producer_config(platform))

    def of_app(self, app: str) -> list[str]:
        """The copies of the domain topics `app` reads (its definition's `domains`)."""
        return [self.topics[d] for d in APPS[app].domains]

    def encode(self, event: Envelope) -> tuple[str, bytes]:
        serializer, schema = self.serializers[event.event_name]
        topic = self.topics[event.domain]
        value = serializer(event.to_avro(schema), SerializationContext(topic, MessageField.VALUE))
        assert value is not None
        return topic, value

    def publish(self, events: Iterable[Envelope], traceparents: bool = False) -> int:
        """Produce with the relay's key, headers, timestamp and partitioner; flush.
        `traceparents`: each record also carries a `traceparent` header (a trace of its own),
        as the relay sends rows written by a tracing producer (the tracing benches)."""
        n = 0
        for event in events:
            topic, value = self.encode(event)
            headers = event_headers(event.to_json())
            if traceparents:
                headers.append(("traceparent", synthetic_traceparent().encode()))
            self._produce(
                topic,
                event.key.encode(),
                value,
                headers,
                int(event.occurred_at.timestamp() * 1000),
            )
            n += 1
        self.flush()
        return n

    def publish_raw(self, domain: str, key: str, value: bytes) -> None:
        self._produce(self.topics[domain], key.encode(), value, [], None)
        self.flush()

    def _produce(self, topic: str, key: bytes, value: bytes, headers: Any, ts: int | None) -> None:
        while True:
            try:
                if ts is None:
                    self.producer.produce(topic, key=key, value=value, headers=headers)
                else:
                    self.producer.produce(
                        topic, key=key, value=value, headers=headers, timestamp=ts
                    )
                break
            except BufferError:
                self.producer.poll(0.1)
        self.producer.poll(0)

    def flush(self) -> None:
        if self.producer.flush(60):
            raise RuntimeError("records not acknowledged within 60s")

    def close(self) -> None:
        """Flush, then delete the copies, so a long-lived stack does not collect them."""
        from confluent_kafka.admin import AdminClient

        from nmc.infra.kafka_clients import admin_config

        self.producer.flush(10)
        self.registry.close()
        admin = AdminClient(admin_config(self.platform))  # held until the futures resolve
        deleting = admin.delete_topics(list(self.topics.values()), operation_timeout=30)
        for future in deleting.values():
            try:
                future.result()
            except Exception as exc:  # already gone is fine; anything else is worth a look
                if "UNKNOWN_TOPIC" not in str(exc):
                    raise


# --- event histories --------------------------------------------------------------------------


def _phone(rng: random.Random) -> str:
    return f"+1310555{rng.randrange(1000, 9999)}"


def _id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


PLOTTED = frozenset({
    "nmc.telephony.CallDetected", "nmc.telephony.InboundSmsReceived",
    "nmc.conversation.ConversationStarted", "nmc.conversation.MessageSent",
    "nmc.conversation.DeliveryUpdated", "nmc.conversation.HumanTakeoverRequested",
    "nmc.scheduling.AppointmentHeld", "nmc.scheduling.AppointmentReleased",
    "nmc.scheduling.AppointmentBooked", "nmc.scheduling.AppointmentCancelled",
    "nmc.catalog.CatalogUpdated", "nmc.compliance.ComplianceStatusChanged",
    "nmc.billing.SubscriptionUpdated",
})
"""The events the story of `flow_events` writes with plausible payloads. Every other event of
the catalog (one added since) is written from its catalog example (`example_payload`) with
fresh ids, so a new event type reaches the stream tests without an edit here."""


def catalog_examples(catalog: SchemaCatalog) -> dict[str, dict[str, Any]]:
    """Each event's `example_payload` from the catalog.json beside the catalog's schemas."""
    examples: dict[str, dict[str, Any]] = {}
    for schema_dir in {s.path.parent.parent for s in catalog}:
        meta = json.loads((schema_dir / "catalog.json").read_text(encoding="utf-8"))
        examples.update({name: entry["example_payload"] for name, entry in meta.items()})
    return examples


def example_payload(rng: random.Random, schema: EventSchema,
                    example: dict[str, Any]) -> dict[str, Any]:
    """The catalog example of `schema`'s event with fresh ids in its uuid fields."""

    def fresh(avro_type: Any, value: Any) -> Any:
        if isinstance(avro_type, list):  # an optional field: its non-null branch
            branches = [t for t in avro_type if t != "null"]
            return value if value is None or len(branches) != 1 else fresh(branches[0], value)
        if isinstance(avro_type, dict) and avro_type.get("logicalType") == "uuid":
            return _id(rng)
        if isinstance(avro_type, dict) and avro_type.get("type") == "array":
            return [fresh(avro_type["items"], v) for v in value]
        return value

    return {f["name"]: fresh(f["type"], example.get(f["name"])) for f in schema.payload_fields}


def flow_events(rng: random.Random, tenant: str, start: datetime,
                catalog: SchemaCatalog | None = None) -> list[Envelope]:
    """One plausible conversation flow (one correlation id): the story below covers the 13
    events of the accepted catalog, and any event added since follows it as its example."""
    catalog = catalog or default_catalog()
    corr = _id(rng)
    t = start
    out: list[Envelope] = []

    def emit(name: str, payload: dict[str, Any]) -> None:
        nonlocal t
        t += timedelta(seconds=rng.randrange(1, 4000))
        out.append(
            new_event(
                name,
                tenant_id=tenant,
                correlation_id=corr,
                payload=payload,
                occurred_at=t,
                event_id=_id(rng),
                catalog=catalog,
            )
        )

    caller, line = _phone(rng), _phone(rng)
    conversation = _id(rng)
    emit(
        "nmc.telephony.CallDetected",
        {
            "call_id": _id(rng),
            "from_phone": caller,
            "to_phone": line,
            "reason": rng.choice(["no-answer", "busy", "failed"]),
            "provider_ref": "CA" + _id(rng)[:8],
        },
    )
    emit(
        "nmc.conversation.ConversationStarted",
        {"conversation_id": conversation, "caller_phone": caller},
    )
    for _ in range(rng.randrange(1, 4)):
        message = _id(rng)
        direction = rng.choice(["in", "out"])
        if direction == "in":
            emit(
                "nmc.telephony.InboundSmsReceived",
                {
                    "message_id": message,
                    "from_phone": caller,
                    "to_phone": line,
                    "body": "my sink is clogged",
                    "provider_ref": "SM1",
                },
            )
        emit(
            "nmc.conversation.MessageSent",
            {
                "message_id": message,
                "conversation_id": conversation,
                "direction": direction,
                "status": "queued",
            },
        )
        if direction == "out":
            for status in rng.choice([["sent", "delivered"], ["sent", "failed"], ["sent"], []]):
                emit(
                    "nmc.conversation.DeliveryUpdated",
                    {
                        "message_id": message,
                        "status": status,
                        "provider_ref": "SM" + message[:6],
                        "error_code": "30003" if status == "failed" else None,
                    },
                )
    if rng.random() < 0.3:
        emit(
            "nmc.conversation.HumanTakeoverRequested",
            {"conversation_id": conversation, "user_id": _id(rng)},
        )
    resource = _id(rng)
    slot_start = (start + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    slot = {
        "resource_id": resource,
        "start": slot_start.isoformat().replace("+00:00", "Z"),
        "end": (slot_start + timedelta(hours=2)).isoformat().replace("+00:00", "Z"),
    }
    if rng.random() < 0.8:
        emit("nmc.scheduling.AppointmentHeld", {"hold_id": _id(rng), **slot})
        fate = rng.choice(["book", "book", "release", "none"])
        if fate == "release":
            emit(
                "nmc.scheduling.AppointmentReleased",
                {"hold_id": out[-1].payload["hold_id"], **slot},
            )
        elif fate == "book":
            appointment = _id(rng)
            emit(
                "nmc.scheduling.AppointmentBooked",
                {
                    "appointment_id": appointment,
                    **slot,
                    "service_item_id": _id(rng),
                    "customer_phone": caller,
                },
            )
            if rng.random() < 0.3:
                emit(
                    "nmc.scheduling.AppointmentCancelled",
                    {
                        "appointment_id": appointment,
                        **slot,
                        "cancelled_reason": rng.choice(["user", "tenant", "system", "conflict"]),
                    },
                )
    if rng.random() < 0.2:
        emit(
            "nmc.catalog.CatalogUpdated",
            {"updated_item_ids": [_id(rng)], "full_refresh": rng.random() < 0.5},
        )
    if rng.random() < 0.2:
        emit(
            "nmc.compliance.ComplianceStatusChanged",
            {"campaign_id": _id(rng), "status": rng.choice(["pending", "approved", "rejected"])},
        )
    if rng.random() < 0.2:
        emit(
            "nmc.billing.SubscriptionUpdated",
            {
                "stripe_customer_id": "cus_" + _id(rng)[:8],
                "stripe_subscription_id": "sub_" + _id(rng)[:8],
                "plan": rng.choice(["basic", "pro"]),
                "status": rng.choice(["active", "past_due", "canceled", "trialing"]),
                "current_period_end": "2025-09-30T23:59:59Z",
            },
        )
    unplotted = sorted(catalog.event_names - PLOTTED)
    examples = catalog_examples(catalog) if unplotted else {}
    for name in unplotted:
        emit(name, example_payload(rng, catalog.latest(name), examples[name]))
    return out


def history(seed: int, tenants: Sequence[str], flows_per_tenant: int,
            catalog: SchemaCatalog | None = None) -> list[Envelope]:
    """A deterministic multi-tenant history in event-time order (of `catalog`'s events,
    default the platform's)."""
    rng = random.Random(seed)
    start = datetime(2025, 9, 1, 8, tzinfo=UTC)
    events: list[Envelope] = []
    for tenant in tenants:
        for i in range(flows_per_tenant):
            events += flow_events(rng, tenant, start + timedelta(hours=7 * i), catalog)
    events.sort(key=lambda e: (e.occurred_at, str(e.event_id)))
    return events


# --- workers ----------------------------------------------------------------------------------


STARTED_PREFIXES: set[str] = set()
"""App id prefixes workers were started with: their groups and DLQ topics, removed by the
integration suite at the end of its session (`nmc.demo.cleanup.remove_run`)."""


def start_worker(
    app: str,
    *,
    database_url: str,
    topic_suffix: str,
    app_id_prefix: str,
    nmc_home: Path,
    worker_id: str,
    metrics_port: int = 0,
    log_path: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """A real worker process (`python -m nmc_streams <app>`), so SIGKILL is a real crash."""
    STARTED_PREFIXES.add(app_id_prefix)
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        NMC_HOME=str(nmc_home),
        NMC_STREAMS_TOPIC_SUFFIX=topic_suffix,
        NMC_STREAMS_APP_ID_PREFIX=app_id_prefix,
        NMC_STREAMS_METRICS_PORT=str(metrics_port),
        NMC_STREAMS_RETRY_BASE_S="0.05",
        NMC_STREAMS_RETRY_MAX_S="0.5",
        # a killed worker's partitions move when its session expires (support.sessions)
        NMC_STREAMS_SESSION_TIMEOUT_S=str(takeover_session_ms() / 1000),
        **(extra_env or {}),
    )
    if log_path is None:  # a failed test shows the tail of every worker's log
        log_path = nmc_home / f"worker-{app}-{worker_id}.log"
    watch_log(log_path)
    with open(log_path, "ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "nmc_streams", app, "--worker-id", worker_id],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_for(
    predicate: Callable[[], bool],
    what: str,
    timeout: float = 120.0,
    explain: Callable[[], str] | None = None,
) -> None:
    """`support.waits.wait_until` under the name the stream tests use (budget scaled)."""
    wait_until(predicate, what, timeout, explain=explain, interval_s=0.25)


def caught_up(platform: Settings, group: str, topics: Iterable[str]) -> bool:
    """True when `group` has committed every partition of `topics` up to its end offset, i.e.
    every record there was processed and acknowledged (not just some of them projected).
    Records before a partition's start offset (deleted) do not count: the watchdog's rule."""
    return not _behind(platform, group, topics)


def remove_group(platform: Settings, group: str) -> None:
    """Delete a test's consumer group and its `nmc.dlq.<group>` / `nmc.replay.<group>` topics,
    so a suite leaves nothing a second run would see; what does not exist is skipped."""
    import contextlib

    from confluent_kafka.admin import AdminClient

    from nmc.contract.dead_letter import dlq_topic, replay_topic
    from nmc.infra.kafka_clients import admin_config

    admin = AdminClient(admin_config(platform))
    for future in [*admin.delete_topics([dlq_topic(group), replay_topic(group)],
                                        operation_timeout=30).values(),
                   *admin.delete_consumer_groups([group], request_timeout=30).values()]:
        with contextlib.suppress(Exception):  # never created, or already gone
            future.result()


def _behind(platform: Settings, group: str, topics: Iterable[str]) -> list[str]:
    """`topic[partition] committed N of END` for every partition `group` has not finished."""
    from confluent_kafka import Consumer, TopicPartition

    from nmc.infra.kafka_clients import consumer_config
    from nmc.infra.offsets import records_left

    consumer = Consumer(consumer_config(platform, group))
    try:
        partitions = [
            TopicPartition(t, p) for t in topics for p in range(platform.nmc_topic_partitions)
        ]
        behind = []
        for tp in consumer.committed(partitions, timeout=10):
            start, end = consumer.get_watermark_offsets(tp, timeout=10)
            if records_left(tp.offset, start, end):
                behind.append(f"{tp.topic}[{tp.partition}] committed {tp.offset} of {end}")
        return behind
    finally:
        consumer.close()


def lag_report(platform: Settings, group: str, topics: Iterable[str]) -> str:
    return "; ".join(_behind(platform, group, topics)) or "nothing left"


def wait_caught_up(
    platform: Settings, group: str, topics: Iterable[str], timeout: float = 180.0
) -> None:
    topic_list = list(topics)
    wait_for(
        lambda: caught_up(platform, group, topic_list),
        f"{group} to commit up to the end of {topic_list}",
        timeout,
        explain=lambda: lag_report(platform, group, topic_list),
    )


def dump(engine: Engine, app: str, tenants: Iterable[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Whole read-model tables of `app`, restricted to `tenants`, in a canonical order."""
    tenant_list = list(tenants)
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in APPS[app].table_names:
            rows = conn.execute(
                text(f"SELECT * FROM {table} WHERE tenant_id::text = ANY(:t)"),
                {"t": tenant_list},
            ).all()
            out[table] = sorted(tuple(r) for r in rows)
    return out


def total_version(engine: Engine, app: str, tenants: Iterable[str]) -> int:
    """Sum of row versions: reaches its final value only when every event is projected."""
    table = APPS[app].table_names[0]
    with engine.connect() as conn:
        value = conn.execute(
            text(f"SELECT count(*) FROM {table} WHERE tenant_id::text = ANY(:t)"),
            {"t": list(tenants)},
        ).scalar_one()
    return int(value)


@contextmanager
def fresh_database(platform: Settings) -> Iterator[str]:
    """A throw-away, fully migrated database (the read models among its tables)."""
    from .databases import scratch_database

    with scratch_database(platform.database, prefix="nmc_streams_ref") as url:
        yield url


def project_in_order(
    engine: Engine, app: str, events: Iterable[Envelope], batch_size: int = 500
) -> None:
    """The reference: the same model and store, in event-time order, `batch_size` events per
    transaction (batching converges to one event per batch: tests/unit/test_streams_reducers.py
    shows it for any order and any batch boundaries; one per batch cost ~10 ms each)."""
    import asyncio

    from nmc_streams.batch import BatchProjector, Record
    from nmc_streams.metrics import StreamMetrics
    from nmc_streams.postgres_store import PostgresStateStore

    records: list[Record] = []

    async def no_dead_letters(record: Record, fact: Any, error: str, attempts: int) -> None:
        raise AssertionError(f"reference history has a poison event: {error}")

    projector = BatchProjector(
        app,
        APPS[app].model,
        PostgresStateStore(engine, app),
        lambda raw: raw,
        no_dead_letters,
        StreamMetrics(app),
        run=_inline,
    )
    for env in events:
        record: dict[str, Any] = env.to_json()
        record["occurred_at"] = env.occurred_at
        records.append(Record("reference", 0, len(records), None, record, {}))  # type: ignore[arg-type]

    async def _all() -> None:
        for start in range(0, len(records), batch_size):
            await projector.handle(records[start:start + batch_size])

    asyncio.run(_all())


async def _inline(call: Callable[..., Any], *args: Any) -> Any:
    return call(*args)



def stop_worker(worker: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    """SIGTERM, then SIGKILL if the worker has not exited: a test never leaves one behind."""
    if worker.poll() is None:
        worker.terminate()
    try:
        worker.wait(timeout_s)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(timeout_s)
