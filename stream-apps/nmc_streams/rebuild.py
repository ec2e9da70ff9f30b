"""`nmc worker rebuild <app>`: rebuild an app's read models from the topics, then swap them in.

Design (the live app is never stopped, the read API never sees a half-built model):

1. A fresh PostgreSQL schema `nmc_rebuild_<app>_<stamp>` gets empty copies (`LIKE … INCLUDING
   ALL`: columns, checks, keys, indexes) of the app's read-model tables and of `stream_state`.
2. A new consumer group `<app id>-rebuild-<stamp>` reads the app's domain topics from the
   beginning and projects them with the app's own `BatchProjector` into that schema: its
   connections put the schema first on their `search_path`, so the unchanged statements of
   `nmc_streams.db` write there. Offsets are committed after each batch is durable
   (at-least-once, idempotent as everywhere). A progress bar follows the lag.
3. Caught up, one transaction swaps: it locks `stream_state` (ACCESS EXCLUSIVE: live workers of
   every app wait before loading states, a few seconds at most) and the app's read models
   (EXCLUSIVE: the read API keeps reading them, live writes wait), takes the topics' end offsets
   *under the lock*, lets the rebuild consume up to them (nothing the live worker wrote can be
   missing then), moves the live tables to `nmc_retired_<app>_<stamp>` and the rebuilt ones into
   `public`, recreates the views on them (and the read-version triggers, moving every tenant's
   read version: the read API's tags given out before no longer match), replaces the app's
   `stream_state` rows with the rebuilt ones (the old rows are kept in the retired schema) and
   records the rebuild in
   `stream_rebuilds`. Readers' next statement resolves the names to the new tables; a live write
   that waited on the lock lands in them too (PostgreSQL looks a name up again after waiting
   for its lock). The live group keeps its offsets: what it applies again is a duplicate.

The retired schema is kept for comparison or rollback; drop it when satisfied
(`DROP SCHEMA nmc_retired_<app>_<stamp> CASCADE`).
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from sqlalchemy import Connection, Engine, create_engine, text

from nmc.contract.dead_letter import dlq_headers, dlq_topic
from nmc.contract.facts import Fact
from nmc.infra.avro_decoder import registry_decoder
from nmc.infra.dead_letters import record_dead_letter
from nmc.infra.kafka_clients import admin_config, consumer_config, ensure_topics, producer_config
from nmc.infra.schema_registry import registry_client
from nmc.infra.settings import ServiceSettings
from nmc_streams import db
from nmc_streams.apps import APPS, app_named
from nmc_streams.batch import BatchProjector, Record
from nmc_streams.dead_letters import dead_letter_row
from nmc_streams.flows import PAYLOAD_MAJOR
from nmc_streams.metrics import StreamMetrics
from nmc_streams.postgres_store import PostgresStateStore
from nmc_streams.settings import StreamSettings

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called with (records consumed, current lag) as the rebuild goes."""


class RebuildError(RuntimeError):
    """The rebuild could not finish (the live models are untouched)."""


@dataclass(frozen=True)
class RebuildPlan:
    """The names one rebuild uses (pure, so they are unit-tested)."""

    app: str
    group: str
    schema: str
    retired: str
    tables: tuple[str, ...]

    @classmethod
    def of(cls, app: str, app_id: str, stamp: str) -> RebuildPlan:
        if app not in APPS:
            raise RebuildError(f"unknown app {app!r}: one of {', '.join(sorted(APPS))}")
        return cls(app, f"{app_id}-rebuild-{stamp}", f"nmc_rebuild_{app}_{stamp}",
                   f"nmc_retired_{app}_{stamp}", APPS[app].table_names)


@dataclass(frozen=True)
class RebuildResult:
    plan: RebuildPlan
    events: int
    dead_letters: int
    swapped: bool
    seconds: float
    swap_seconds: float = 0.0
    """How long the successful swap transaction held its locks."""


def new_stamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")


def lag(positions: Mapping[tuple[str, int], int], ends: Mapping[tuple[str, int], int]) -> int:
    """Records between each partition's next position and its end offset (pure)."""
    return sum(max(end - positions.get(tp, 0), 0) for tp, end in ends.items())


def dependent_views(conn: Connection, tables: tuple[str, ...]) -> list[tuple[str, str]]:
    """(name, definition) of the public views that read the given tables."""
    rows = conn.execute(text(
        "SELECT DISTINCT v.relname, pg_get_viewdef(v.oid) FROM pg_depend d"
        " JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class"
        " JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace n ON n.oid = t.relnamespace"
        " WHERE n.nspname = 'public' AND t.relname = ANY(:tables) AND v.oid <> t.oid"
        " ORDER BY 1"), {"tables": list(tables)}).all()
    return [(r[0], r[1]) for r in rows]


def read_version_scopes(conn: Connection, tables: tuple[str, ...]) -> list[tuple[str, str]]:
    """(table, scope) of the public tables whose changes bump `read_versions` (rm0005: the
    read API's freshness check). Their rebuilt copies have no trigger (`LIKE` copies none)."""
    rows = conn.execute(text(
        "SELECT c.relname, split_part(encode(t.tgargs, 'escape'), '\\000', 1) FROM pg_trigger t"
        " JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relname = ANY(:tables)"
        " AND t.tgname = 'nmc_read_versions_ins' ORDER BY 1"), {"tables": list(tables)}).all()
    return [(r[0], r[1]) for r in rows]


def prepare_schema(engine: Engine, plan: RebuildPlan) -> None:
    """Empty copies of the app's read models and of `stream_state` in the rebuild schema."""
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{plan.schema}"'))
        for table in (*plan.tables, "stream_state"):
            conn.execute(text(f'CREATE TABLE "{plan.schema}".{table}'
                              f" (LIKE public.{table} INCLUDING ALL)"))


def schema_engine(url: str, schema: str) -> Engine:
    """An engine whose unqualified names resolve in `schema` first (then public)."""
    return create_engine(url, pool_pre_ping=True, pool_size=2,
                         connect_args={"connect_timeout": 5,
                                       "options": f"-csearch_path={schema},public"})


class Rebuilder:
    """Consumes the app's topics from the beginning into the rebuild schema."""

    def __init__(self, app: str, platform: ServiceSettings, settings: StreamSettings,
                 plan: RebuildPlan) -> None:
        self.app = app
        self.platform = platform
        self.plan = plan
        self.topics = [settings.source_topic(d) for d in app_named(app).domains]
        self.batch_max = settings.batch_max_events
        self.public = db.worker_engine(platform.database)
        self.target = schema_engine(platform.database, plan.schema)
        self.registry = registry_client(platform)
        self.producer = Producer(producer_config(platform))
        self.consumer = Consumer(consumer_config(self.platform, plan.group,
                                                 **{"enable.auto.offset.store": False}))
        # End offsets come from a second client that fetches nothing: on the fetching
        # consumer's connection each ListOffsets request waits behind a long-polling fetch
        # (fetch.wait.max.ms), 36 partitions took 18 s instead of 20 ms.
        self.probe = Consumer(consumer_config(self.platform, plan.group))
        self.positions: dict[tuple[str, int], int] = {}
        self.events = 0
        self.dead_letters = 0
        self.loop = asyncio.new_event_loop()
        self.projector = BatchProjector(
            app, app_named(app).model, PostgresStateStore(self.target, app),
            registry_decoder(self.registry, PAYLOAD_MAJOR),
            self._dead_letter, StreamMetrics(app),
            retry_base_s=settings.retry_base_s, retry_max_s=settings.retry_max_s)

    async def _dead_letter(self, record: Record, fact: Fact | None, error: str,
                           attempts: int) -> None:
        headers = dlq_headers(record.headers, error=error, attempts=attempts,
                              group_id=self.plan.group, topic=record.topic,
                              partition=record.partition, offset=record.offset)
        self.producer.produce(dlq_topic(self.plan.group), key=record.key, value=record.value,
                              headers=list(headers.items()))
        if self.producer.flush(30) != 0:
            raise RuntimeError("dead-letter topic did not acknowledge")
        row = dead_letter_row(self.plan.group, self.app, record, fact, error, attempts)
        await asyncio.to_thread(record_dead_letter, self.public, row)
        self.dead_letters += 1

    def start(self) -> None:
        ensure_topics(self.platform, [*self.topics, dlq_topic(self.plan.group)])
        partitions = [TopicPartition(t, p, OFFSET_BEGINNING) for t in self.topics
                      for p in range(self.platform.nmc_topic_partitions)]
        self.consumer.assign(partitions)
        for tp in partitions:
            low, _high = self.probe.get_watermark_offsets(tp, timeout=10)
            self.positions[(tp.topic, tp.partition)] = low

    def ends(self) -> dict[tuple[str, int], int]:
        """Current end offsets of every partition (a fresh request, not a cached value)."""
        out = {}
        for topic, partition in self.positions:
            _low, high = self.probe.get_watermark_offsets(TopicPartition(topic, partition),
                                                          timeout=10, cached=False)
            out[(topic, partition)] = high
        return out

    def consume_to(self, ends: Mapping[tuple[str, int], int], progress: Progress,
                   deadline: float | None = None) -> bool:
        """Project batches until every partition reached `ends`; False at `deadline`."""
        while lag(self.positions, ends) > 0:
            if deadline is not None and time.monotonic() > deadline:
                return False
            messages = self.consumer.consume(self.batch_max, 0.5)
            records = [Record(m.topic() or "", m.partition() or 0, m.offset() or 0, m.key(),
                              m.value(), _headers(m.headers()))
                       for m in messages if not m.error()]
            if records:
                self.loop.run_until_complete(self.projector.handle(records))
                self.events += len(records)
            # the consumer's own positions also step over records it does not hand out
            # (transaction markers), so a partition ending with one still counts as reached
            done = [tp for tp in self.consumer.position(self.consumer.assignment())
                    if tp.offset >= 0 and tp.offset > self.positions[(tp.topic, tp.partition)]]
            if done:  # after the batch is durable; asynchronous: a synchronous commit waits
                # behind the long-polling fetch, and a rebuild that dies starts over anyway
                self.consumer.commit(offsets=done, asynchronous=True)
                self.positions.update({(tp.topic, tp.partition): tp.offset for tp in done})
            progress(self.events, lag(self.positions, ends))
        return True

    def close(self) -> None:
        self.consumer.close()
        self.probe.close()
        self.producer.flush(10)
        self.registry.close()
        self.loop.close()
        self.public.dispose()
        self.target.dispose()


def _headers(raw: Any) -> dict[str, str]:
    return {k: v.decode(errors="replace") if isinstance(v, bytes) else str(v)
            for k, v in (raw or [])}


def swap(rebuilder: Rebuilder, progress: Progress, operator: str, started_at: datetime,
         catch_up_s: float) -> bool:
    """The atomic swap (module docstring, step 3). False when the rebuild could not reach the
    end offsets taken under the lock within `catch_up_s` (rolled back, nothing changed)."""
    try:
        _swap(rebuilder, progress, operator, started_at, catch_up_s)
    except _NotCaughtUp:
        return False  # the transaction rolled back: locks released, nothing moved
    return True


class _NotCaughtUp(Exception):
    pass


def _swap(rebuilder: Rebuilder, progress: Progress, operator: str, started_at: datetime,
          catch_up_s: float) -> None:
    plan = rebuilder.plan
    tables = ", ".join(f"public.{t}" for t in plan.tables)
    with rebuilder.public.begin() as conn:
        conn.execute(text("SET LOCAL lock_timeout = '60s'"))
        conn.execute(text("LOCK TABLE public.stream_state IN ACCESS EXCLUSIVE MODE"))
        conn.execute(text(f"LOCK TABLE {tables} IN EXCLUSIVE MODE"))
        ends = rebuilder.ends()
        if not rebuilder.consume_to(ends, progress, time.monotonic() + catch_up_s):
            raise _NotCaughtUp
        views = dependent_views(conn, plan.tables)
        tracked = read_version_scopes(conn, plan.tables)
        conn.execute(text(f'CREATE SCHEMA "{plan.retired}"'))
        for table in plan.tables:
            conn.execute(text(f'ALTER TABLE public.{table} SET SCHEMA "{plan.retired}"'))
            conn.execute(text(f'ALTER TABLE "{plan.schema}".{table} SET SCHEMA public'))
        for name, definition in views:
            conn.execute(text(f"CREATE OR REPLACE VIEW public.{name} AS {definition}"))
        for table, scope in tracked:
            # triggers on the swapped-in table, and every tenant's version moves: the swap
            # may have changed any row, so no tag given out before it may answer 304
            conn.execute(text("SELECT nmc_track_read_versions(CAST(:t AS regclass), :s)"),
                         {"t": f"public.{table}", "s": scope})
        conn.execute(text(f'CREATE TABLE "{plan.retired}".stream_state AS'
                          " SELECT * FROM public.stream_state WHERE app = :app"),
                     {"app": plan.app})
        conn.execute(text("DELETE FROM public.stream_state WHERE app = :app"), {"app": plan.app})
        conn.execute(text(f'INSERT INTO public.stream_state SELECT * FROM "{plan.schema}"'
                          ".stream_state WHERE app = :app"), {"app": plan.app})
        conn.execute(text(f'DROP SCHEMA "{plan.schema}" CASCADE'))
        conn.execute(text(
            "INSERT INTO stream_rebuilds (app, group_id, rebuilt_schema, retired_schema, events,"
            " dead_letters, started_at, swapped_by) VALUES (:app, :group, :schema, :retired,"
            " :events, :dead, :started, :by)"),
            {"app": plan.app, "group": plan.group, "schema": plan.schema,
             "retired": plan.retired, "events": rebuilder.events,
             "dead": rebuilder.dead_letters, "started": started_at, "by": operator})


def remove_group(platform: ServiceSettings, plan: RebuildPlan, keep_dlq: bool) -> None:
    """The rebuild's consumer group is of no use after the swap; its DLQ topic only if empty."""
    admin = AdminClient(admin_config(platform))
    futures = list(admin.delete_consumer_groups([plan.group], request_timeout=30).values())
    if not keep_dlq:
        futures += list(admin.delete_topics([dlq_topic(plan.group)],
                                            operation_timeout=30).values())
    for future in futures:
        try:
            future.result()
        except Exception as exc:  # cleanup only: say so, the rebuild itself is done
            if "GROUP_ID_NOT_FOUND" not in str(exc):  # nothing was ever committed: no group
                log.warning("rebuild cleanup: %s", exc)


def rebuild(app: str, platform: ServiceSettings, settings: StreamSettings, *, progress: Progress,
            on_total: Callable[[int], None] = lambda total: None, operator: str | None = None,
            swap_models: bool = True, catch_up_s: float = 30.0, attempts: int = 5,
            stamp: str | None = None) -> RebuildResult:
    """Build the app's read models anew from its topics and swap them in (module docstring)."""
    started = time.monotonic()
    started_at = datetime.now(UTC)
    plan = RebuildPlan.of(app, settings.app_id(app), stamp or new_stamp())
    operator = operator or os.environ.get("USER") or getpass.getuser()
    rebuilder = Rebuilder(app, platform, settings, plan)
    swapped = False
    swap_seconds = 0.0
    try:
        prepare_schema(rebuilder.public, plan)
        rebuilder.start()
        ends = rebuilder.ends()
        on_total(lag(rebuilder.positions, ends))
        rebuilder.consume_to(ends, progress)
        if swap_models:
            for _ in range(attempts):
                rebuilder.consume_to(rebuilder.ends(), progress)  # close in before locking
                locked_at = time.monotonic()
                if swap(rebuilder, progress, operator, started_at, catch_up_s):
                    swapped = True
                    swap_seconds = time.monotonic() - locked_at
                    break
            if not swapped:
                raise RebuildError(f"could not catch up under the swap lock {attempts} times"
                                   f" ({catch_up_s}s each); the rebuilt models stay in"
                                   f" {plan.schema}, the live ones are untouched")
    finally:
        rebuilder.close()
    if swapped:
        remove_group(platform, plan, keep_dlq=rebuilder.dead_letters > 0)
    return RebuildResult(plan, rebuilder.events, rebuilder.dead_letters, swapped,
                         time.monotonic() - started, swap_seconds)
