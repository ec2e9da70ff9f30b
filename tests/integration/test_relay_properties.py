"""The relay properties of DESIGN.md §4, each provoked on the real stack."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from relay_support import (
    assert_complete_and_in_order,
    commit_order,
    kafka_events,
    torture_relays,
)
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from support.settings import PlatformSettings as Settings

from nmc.contract.envelope import Envelope, new_event
from nmc.contract.keys import record_key
from nmc.infra.consume import end_offsets, read_records
from nmc.infra.db import psycopg_dsn
from nmc.infra.kafka_clients import domain_topics
from producers.outbox import OUTBOX_LANES, OutboxWriter
from producers.outbox.operator import list_parked, retry, skip
from producers.relay.leases import fair_share
from producers.relay.outcome import BatchOutcome
from producers.relay.store import OutboxStore

WRITER = OutboxWriter()


def message(tenant: uuid.UUID, conversation: uuid.UUID) -> Envelope:
    return new_event(
        "nmc.conversation.MessageSent",
        tenant_id=tenant,
        correlation_id=conversation,
        payload={"message_id": str(uuid.uuid4()), "conversation_id": str(conversation),
                 "direction": "out", "status": "queued"},
    )


def states(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT state, count(*) FROM outbox_events GROUP BY state"))
        return {state: int(n) for state, n in rows}


def published_all(engine: Engine, total: int) -> Callable[[], bool]:
    return lambda: states(engine).get("published", 0) == total


def read_events(settings: Settings, start: Any, tenant: uuid.UUID, count: int) -> list[Any]:
    return read_records(
        settings, start, until=lambda rs: len({r.headers["event_id"] for r in rs}) >= count,
        keep=lambda h: h.get("tenant_id") == str(tenant), timeout_s=120,
    )


def test_a_row_that_commits_late_is_not_skipped(
    test_settings: Settings, engine: Engine, relay_thread: Callable[..., Any],
    wait_until: Callable[..., None],
) -> None:
    """A lower id committing after a higher one has been published is still published."""
    tenant = uuid.uuid4()
    early, late = message(tenant, uuid.uuid4()), message(tenant, uuid.uuid4())
    start = end_offsets(test_settings, domain_topics())
    slow = Session(engine)
    slow.begin()
    WRITER.append(slow, early)  # takes the lower id, commits last
    with Session(engine) as fast, fast.begin():
        WRITER.append(fast, late)
    relay_thread()
    wait_until(published_all(engine, 1), "the later-id row to be published")
    slow.commit()
    slow.close()
    wait_until(published_all(engine, 2), "the late-committing row to be published")

    with engine.connect() as conn:
        ids = dict(conn.execute(text("SELECT event_id::text, id FROM outbox_events")).all())
    assert ids[str(early.event_id)] < ids[str(late.event_id)]
    records = read_events(test_settings, start, tenant, 2)
    assert {r.headers["event_id"] for r in records} == {str(late.event_id),
                                                        str(early.event_id)}


def test_writers_of_one_key_serialize_so_kafka_sees_commit_order(
    test_settings: Settings, engine: Engine, relay_thread: Callable[..., Any],
    wait_until: Callable[..., None],
) -> None:
    tenant, conversation = uuid.uuid4(), uuid.uuid4()
    first, second = message(tenant, conversation), message(tenant, conversation)
    start = end_offsets(test_settings, domain_topics())
    holder = Session(engine)
    holder.begin()
    WRITER.append(holder, first)

    def write_second() -> None:
        with Session(engine) as s, s.begin():
            WRITER.append(s, second)

    blocked = threading.Thread(target=write_second)
    blocked.start()

    def second_writer_waits_on_the_key_lock() -> bool:
        # Only this database's lock on this key: other tests' writers wait on their own keys.
        # A bigint advisory lock shows as classid (high 32 bits) and objid (low 32 bits).
        with engine.connect() as conn:
            return bool(conn.execute(text(
                "SELECT count(*) FROM pg_locks l, hashtextextended(:key, 0) AS h(k) "
                "WHERE l.locktype = 'advisory' AND NOT l.granted AND l.objsubid = 1 "
                "AND l.database = (SELECT oid FROM pg_database "
                "WHERE datname = current_database()) "
                "AND l.classid::bigint = ((h.k >> 32) & 4294967295) "
                "AND l.objid::bigint = (h.k & 4294967295)"
            ), {"key": record_key(tenant, conversation)}).scalar_one())

    wait_until(second_writer_waits_on_the_key_lock, "the second writer to wait for the key")
    holder.commit()
    holder.close()
    blocked.join(timeout=30)
    relay_thread()
    wait_until(published_all(engine, 2), "both rows to be published")
    records = read_events(test_settings, start, tenant, 2)
    assert [r.headers["event_id"] for r in records] == [str(first.event_id),
                                                         str(second.event_id)]


@pytest.mark.fault
def test_per_key_order_with_shared_keys_three_relays_and_kills_in_flight(
    test_settings: Settings, engine: Engine, database_url: str,
    wait_until: Callable[..., None], tmp_path: Path,
) -> None:
    """Six writers share keys (late commits, rollbacks), three relays run at once and one is
    SIGKILLed three times while its batch is being produced and acknowledged: nothing is lost
    and per key the first occurrences keep commit order."""
    tenant = uuid.uuid4()
    start = end_offsets(test_settings, domain_topics())
    torture_relays(engine, database_url, tmp_path, tenant, keys=16, relays=3, kills=3,
                   per_kill=80, threads=6, env={})
    assert_complete_and_in_order(commit_order(engine), kafka_events(test_settings, start, tenant))


class _Crash(BaseException):
    """The process dies here (not an Exception: nothing in the relay may catch it)."""


class _DiesAfterAck(OutboxStore):
    """A real store whose process dies after its `crash_at`-th batch was acknowledged by
    Kafka and before that batch was marked published."""

    def __init__(self, dsn: str, crash_at: int) -> None:
        super().__init__(dsn)
        self.crash_at = crash_at
        self.batches = 0
        self.acked_not_marked: list[int] = []

    def settle(self, outcome: BatchOutcome) -> None:
        self.batches += 1
        if self.batches == self.crash_at:
            self.acked_not_marked = [r.row_id for r in outcome.published]
            self.reset()  # its session ends, and its lane leases with it
            raise _Crash
        super().settle(outcome)


@pytest.mark.fault
def test_after_a_crash_only_what_was_not_marked_is_published_again(
    test_settings: Settings, engine: Engine, database_url: str,
    relay_thread: Callable[..., Any], wait_until: Callable[..., None],
) -> None:
    """DESIGN.md §4: a relay killed after Kafka acknowledged its batch but before it marked the
    rows republishes at most that batch; rows acknowledged *and* marked are never sent again."""
    from producers.relay.app import build_relay
    from producers.relay.relay import OutboxRelay

    tenant, keys = uuid.uuid4(), [uuid.uuid4() for _ in range(20)]
    with Session(engine) as s, s.begin():
        WRITER.append_all(s, [message(tenant, k) for _ in range(15) for k in keys])
    start = end_offsets(test_settings, domain_topics())
    settings = test_settings.model_copy(update={"nmc_relay_batch_size": 50})
    store = _DiesAfterAck(psycopg_dsn(database_url), crash_at=3)
    built = build_relay(settings, settings)
    relay = OutboxRelay(settings, store, built._publisher, built.metrics)
    built._store.close()

    def run() -> None:
        with contextlib.suppress(_Crash):
            relay.run(threading.Event())

    doomed = threading.Thread(target=run)
    doomed.start()
    doomed.join(timeout=60)
    assert not doomed.is_alive() and store.batches == 3
    relay._publisher.close()
    assert len(store.acked_not_marked) == 50
    assert states(engine) == {"published": 100, "pending": 200}
    with engine.connect() as conn:
        marked = {str(e) for e in conn.execute(text(
            "SELECT event_id FROM outbox_events WHERE state = 'published'")).scalars()}
        unmarked = {str(e) for e in conn.execute(text(
            "SELECT event_id FROM outbox_events WHERE id = ANY(:ids)"),
            {"ids": store.acked_not_marked}).scalars()}

    relay_thread()  # a fresh relay takes the lanes over
    wait_until(lambda: states(engine) == {"published": 300}, "the rest to be published")
    seen = kafka_events(test_settings, start, tenant)
    copies = Counter(event_id for _, event_id in seen)
    duplicates = {e for e, n in copies.items() if n > 1}
    assert duplicates == unmarked  # exactly the batch that was acked but not marked ...
    assert all(copies[e] == 2 for e in duplicates)  # ... once more, and nothing else
    assert all(copies[e] == 1 for e in marked)  # acknowledged and marked: never sent again
    assert len(copies) == 300
    assert_complete_and_in_order(commit_order(engine), seen)


def _insert_raw(engine: Engine, envelope: dict[str, Any]) -> int:
    """Insert a row as a non-Python writer might, bypassing validation."""
    with engine.begin() as conn:
        return int(conn.execute(text(
            """INSERT INTO outbox_events (event_id, event_name, schema_version, tenant_id,
                   correlation_id, causation_id, occurred_at, payload, topic, record_key)
               VALUES (:event_id, :event_name, :schema_version, :tenant_id, :correlation_id,
                   :causation_id, :occurred_at, CAST(:payload AS jsonb), :topic, :key)
               RETURNING id"""),
            envelope).scalar_one())


def test_a_poison_row_is_parked_and_blocks_only_its_own_key(
    test_settings: Settings, engine: Engine, relay_thread: Callable[..., Any],
    wait_until: Callable[..., None],
) -> None:
    import json

    tenant, blocked_key, free_key = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    good = message(tenant, blocked_key)
    poison = dict(good.to_json(), event_id=str(uuid.uuid4()))
    poison["payload"] = json.dumps({"conversation_id": str(blocked_key)})  # fields missing
    poison.update(topic="nmc.conversation", key=good.key)
    poison_id = _insert_raw(engine, poison)
    behind, other = message(tenant, blocked_key), message(tenant, free_key)
    with Session(engine) as s, s.begin():
        WRITER.append_all(s, [behind, other])
    start = end_offsets(test_settings, domain_topics())
    relay_thread(nmc_relay_poll_interval_s=0.2)

    wait_until(lambda: states(engine).get("published", 0) == 1, "the free key to flow")
    wait_until(lambda: states(engine).get("parked", 0) == 1, "the poison row to be parked")
    parked = list_parked(engine)
    assert [p.id for p in parked] == [poison_id]
    assert parked[0].blocked_behind == 1
    assert parked[0].last_error is not None and "message_id" in parked[0].last_error
    assert states(engine).get("pending") == 1  # the later event of the same key waits

    # An operator fixes the row and retries: the key flows again, in order.
    with engine.begin() as conn:
        conn.execute(text("UPDATE outbox_events SET payload = CAST(:p AS jsonb) WHERE id = :id"),
                     {"p": json.dumps(good.payload), "id": poison_id})
    assert retry(engine, [poison_id]) == [poison_id]
    wait_until(published_all(engine, 3), "the retried row and the one behind it")
    records = read_events(test_settings, start, tenant, 3)
    of_key = [r.headers["event_id"] for r in records if r.key == good.key]
    assert of_key == [poison["event_id"], str(behind.event_id)]


def test_a_row_parked_in_a_batch_still_being_settled_holds_its_key_in_later_fetches(
    test_settings: Settings, engine: Engine, relay_thread: Callable[..., Any],
    wait_until: Callable[..., None],
) -> None:
    """The next batch is fetched while the previous one is settled, so a row parked there is
    not yet visible to the fetch's parked-key check: the relay must hold the key back itself.
    Batches of 5 rows, a poison row first; the next batch has none of its key (so it stays
    full and the one after is fetched while the poison row's batch is settled), the batch after
    that has one."""
    import json

    tenant, blocked_key = uuid.uuid4(), uuid.uuid4()
    good = message(tenant, blocked_key)
    poison = dict(good.to_json(), event_id=str(uuid.uuid4()))
    poison["payload"] = json.dumps({"conversation_id": str(blocked_key)})  # fields missing
    poison.update(topic="nmc.conversation", key=good.key)
    _insert_raw(engine, poison)
    events = [message(tenant, blocked_key if i in (9, 10, 30) else uuid.uuid4())
              for i in range(60)]
    with Session(engine) as s, s.begin():
        WRITER.append_all(s, events)
    behind = sum(1 for e in events if e.correlation_id == blocked_key)
    relay_thread(nmc_relay_poll_interval_s=0.2, nmc_relay_batch_size=5)

    wait_until(published_all(engine, len(events) - behind), "the other keys to flow")
    wait_until(lambda: states(engine).get("parked", 0) == 1, "the poison row to be parked")
    with engine.connect() as conn:
        published_behind = conn.execute(text(
            "SELECT count(*) FROM outbox_events WHERE record_key = :k AND state = 'published'"
        ), {"k": good.key}).scalar_one()
    assert published_behind == 0
    assert states(engine).get("pending") == behind


def test_skipping_a_parked_row_releases_its_key(
    test_settings: Settings, engine: Engine, relay_thread: Callable[..., Any],
    wait_until: Callable[..., None],
) -> None:
    import json

    tenant, key = uuid.uuid4(), uuid.uuid4()
    good = message(tenant, key)
    poison = dict(good.to_json(), event_id=str(uuid.uuid4()), topic="nmc.conversation",
                  key=good.key, payload=json.dumps({"status": "teleported"}))
    poison_id = _insert_raw(engine, poison)
    with Session(engine) as s, s.begin():
        WRITER.append(s, good)
    relay_thread(nmc_relay_poll_interval_s=0.2)
    wait_until(lambda: states(engine).get("parked", 0) == 1, "the poison row to be parked")
    assert states(engine).get("pending") == 1
    assert skip(engine, [poison_id]) == [poison_id]
    wait_until(lambda: states(engine).get("published", 0) == 1, "the key to flow after skip")
    assert states(engine) == {"published": 1, "skipped": 1}


def test_an_idle_relay_publishes_without_any_notify(
    test_settings: Settings, engine: Engine, relay_thread: Callable[..., Any],
    wait_until: Callable[..., None],
) -> None:
    """No trigger notifies on outbox writes (migration 0006); an idle relay, whose lease
    rebalance runs only once an hour, still finds each new row by its adaptive poll: rows
    written one at a time, the relay idle in between, are all published within the wait.
    (How fast is bench.relay's question, not this test's.)"""
    with engine.connect() as conn:
        assert conn.execute(text(
            "SELECT count(*) FROM pg_trigger WHERE tgname = 'outbox_events_notify'")
        ).scalar_one() == 0
    relay_thread(nmc_relay_poll_interval_s=3600.0)
    for n in (1, 2, 3):
        with Session(engine) as s, s.begin():
            WRITER.append(s, message(uuid.uuid4(), uuid.uuid4()))
        wait_until(published_all(engine, n), f"row {n} to be published", timeout=60)


@pytest.mark.fault
def test_relays_split_the_lanes_and_take_over_a_dead_relays_lanes(
    test_settings: Settings, database_url: str, wait_until: Callable[..., None],
) -> None:
    from producers.relay.relay import OutboxRelay

    dsn = psycopg_dsn(database_url)
    stores = [OutboxStore(dsn) for _ in range(2)]
    relays = [OutboxRelay(test_settings, s, publisher=None) for s in stores]  # type: ignore[arg-type]
    try:
        for s in stores:
            s.join()
        for _ in range(3):  # a few rounds: surplus is released, then leased by the other
            for r in relays:
                r.rebalance()
        a, b = stores[0].lanes, stores[1].lanes
        assert not a & b
        assert a | b == set(range(OUTBOX_LANES))
        assert len(a) == len(b) == fair_share(OUTBOX_LANES, 2)
        # The connection of relay 0 dies (as with SIGKILL): relay 1 takes every lane.
        with psycopg.connect(dsn, autocommit=True) as admin:
            pid = stores[0]._conn.info.backend_pid
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

            def backend_gone() -> bool:
                row = admin.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)
                ).fetchone()
                return row is not None and row[0] == 0

            wait_until(backend_gone, "the dead relay's backend to exit")
        relays[1].rebalance()
        assert stores[1].lanes == set(range(OUTBOX_LANES))
    finally:
        for s in stores:
            with contextlib.suppress(psycopg.Error):
                s.close()


def test_retention_deletes_only_old_published_rows(
    test_settings: Settings, engine: Engine, database_url: str,
    relay_thread: Callable[..., Any], wait_until: Callable[..., None],
) -> None:
    with Session(engine) as s, s.begin():
        WRITER.append_all(s, [message(uuid.uuid4(), uuid.uuid4()) for _ in range(5)])
    relay_thread()
    wait_until(published_all(engine, 5), "five rows published")
    store = OutboxStore(psycopg_dsn(database_url))
    try:
        assert store.delete_published_before(3600) == 0  # younger than the retention
        with Session(engine) as s, s.begin():
            WRITER.append(s, message(uuid.uuid4(), uuid.uuid4()))  # stays pending
        with engine.begin() as conn:
            conn.execute(text("UPDATE outbox_events SET published_at = now() - interval '2 hours'"
                              " WHERE state = 'published'"))
        assert store.delete_published_before(3600) == 5
    finally:
        store.close()
    assert sum(states(engine).values()) == 1
