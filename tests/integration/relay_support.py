"""Helpers of the relay integration tests: relay processes, their probe, what Kafka holds."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import Consumer, TopicPartition
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from support.settings import PlatformSettings as Settings
from support.waits import scaled

from nmc.contract.envelope import Envelope, new_event
from nmc.contract.headers import decode_headers
from nmc.infra.consume import end_offsets
from nmc.infra.kafka_clients import consumer_config, domain_topics
from producers.outbox import OutboxWriter

WRITER = OutboxWriter()


def message(tenant: uuid.UUID, conversation: uuid.UUID, **kwargs: Any) -> Envelope:
    return new_event(
        "nmc.conversation.MessageSent", tenant_id=tenant, correlation_id=conversation,
        payload={"message_id": str(uuid.uuid4()), "conversation_id": str(conversation),
                 "direction": "out", "status": "queued"},
        **kwargs,
    )


def states(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT state, count(*) FROM outbox_events GROUP BY state"))
        return {state: int(n) for state, n in rows}



def spawn_relay(database_url: str, log: Path, **env: str) -> subprocess.Popen[bytes]:
    """`nmc relay` as its own process on the test database (small batches, quick polls)."""
    full = dict(os.environ, DATABASE_URL=database_url, NMC_RELAY_BATCH_SIZE="40",
                NMC_RELAY_POLL_INTERVAL_S="0.2", NMC_RELAY_MAX_BACKOFF_S="2", **env)
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "nmc.cli", "relay"], env=full,
                                stdout=out, stderr=subprocess.STDOUT)


def healthz(port: int) -> tuple[int, dict[str, Any]]:
    """(status, body) of a relay's probe; (0, {}) while nothing answers."""
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    except httpx.HTTPError:
        return 0, {}
    return response.status_code, response.json()


def relay_backends(engine: Engine) -> list[int]:
    """Backend pids of relay sessions on this test's database."""
    with engine.connect() as conn:
        return [int(p) for p in conn.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'nmc-relay %' "
            "AND datname = current_database()")).scalars()]


def terminate_relay_sessions(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name LIKE 'nmc-relay %' AND datname = current_database()"
        )).scalar_one())


def relays_in_flight(engine: Engine) -> list[int]:
    """Process ids of relays between their lease check and settling a batch: the batch is
    being produced and acknowledged (their session's last statement is the lease check)."""
    with engine.connect() as conn:
        names = conn.execute(text(
            "SELECT application_name FROM pg_stat_activity "
            "WHERE application_name LIKE 'nmc-relay %' AND datname = current_database() "
            "AND state = 'idle' AND query LIKE '%pg_backend_pid()%'")).scalars()
        return [int(n.split()[1]) for n in names]


def commit_order(engine: Engine) -> dict[str, list[str]]:
    """Per key, event ids in outbox id order — the commit order, as the writer's key lock
    serializes the transactions of one key (tested in test_relay_properties)."""
    order: dict[str, list[str]] = defaultdict(list)
    with engine.connect() as conn:
        for key, event_id in conn.execute(text(
                "SELECT record_key, event_id::text FROM outbox_events ORDER BY id")):
            order[key].append(event_id)
    return order


def kafka_events(settings: Settings, start: list[TopicPartition], tenant: uuid.UUID,
                 timeout_s: float = 120) -> list[tuple[str, str]]:
    """(key, event_id) of every record of `tenant` from `start` to the current end, in
    partition order (which is per-key order: a key lives in one partition)."""
    end = {(tp.topic, tp.partition): tp.offset for tp in end_offsets(settings, domain_topics())}
    todo = {k for k, off in end.items()
            if off > next(s.offset for s in start if (s.topic, s.partition) == k)}
    consumer = Consumer(consumer_config(settings, f"nmc-test-{uuid.uuid4().hex[:8]}"))
    out: list[tuple[str, str]] = []
    deadline = time.monotonic() + scaled(timeout_s)
    try:
        consumer.assign(start)
        while todo:
            if time.monotonic() > deadline:
                raise TimeoutError(f"partitions {sorted(todo)} not read to their end")
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            where = (msg.topic() or "", msg.partition() or 0)
            if (msg.offset() or 0) + 1 >= end.get(where, 0):
                todo.discard(where)
            headers = decode_headers(msg.headers())
            if headers.get("tenant_id") == str(tenant):
                out.append(((msg.key() or b"").decode(), headers["event_id"]))
    finally:
        consumer.close()
    return out


def assert_complete_and_in_order(expected: dict[str, list[str]],
                                 seen: list[tuple[str, str]]) -> None:
    """Every committed event reached Kafka and, per key, first occurrences keep commit order."""
    per_key: dict[str, list[str]] = defaultdict(list)
    for key, event_id in seen:
        per_key[key].append(event_id)
    for key, ids in expected.items():
        firsts = list(dict.fromkeys(per_key[key]))
        assert firsts == ids, f"key {key}: {len(firsts)} of {len(ids)}, or order differs"


class Writers:
    """Threads committing events for shared keys until stopped; some transactions roll back."""

    def __init__(self, engine: Engine, tenant: uuid.UUID, keys: list[uuid.UUID],
                 threads: int) -> None:
        self._engine = engine
        self._tenant = tenant
        self._keys = keys
        self._stop = threading.Event()
        self.committed = 0
        self.rolled_back = 0
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._write, args=(i,), daemon=True)
                         for i in range(threads)]

    def __enter__(self) -> Writers:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)

    def _write(self, seed: int) -> None:
        import random

        rnd = random.Random(seed)
        n = 0
        while not self._stop.is_set():
            n += 1
            keys = rnd.sample(self._keys, rnd.randint(1, 3))  # keys shared across writers
            with Session(self._engine) as session:
                session.begin()
                WRITER.append_all(session, [message(self._tenant, k) for k in keys])
                if rnd.random() < 0.3:
                    time.sleep(rnd.random() * 0.05)  # a late commit, holding its key locks
                if n % 7 == 0:
                    session.rollback()
                    with self._lock:
                        self.rolled_back += 1
                else:
                    session.commit()
                    with self._lock:
                        self.committed += len(keys)
            time.sleep(0.002)


def torture_relays(engine: Engine, database_url: str, logs: Path, tenant: uuid.UUID, *,
                   keys: int, relays: int, kills: int, per_kill: int, threads: int,
                   env: dict[str, str]) -> None:
    """`relays` `nmc relay` processes publish while `threads` writers commit (and roll back)
    events of `tenant` on `keys` keys; `kills` times, once `per_kill` more rows are published, a
    relay seen with a batch in flight (pg_stat_activity) is SIGKILLed and replaced. Returns
    once every row is published and the survivors stopped cleanly on SIGTERM; the caller
    checks Kafka (`assert_complete_and_in_order`)."""
    import signal

    from support.waits import wait_until

    env = {"NMC_PRODUCER_LINGER_MS": "100", **env}  # keeps a batch in flight to be caught
    log_files = [logs / f"relay-{i}.log" for i in range(relays + kills)]
    running = [spawn_relay(database_url, log_files[i], **env) for i in range(relays)]
    killed: list[subprocess.Popen[bytes]] = []
    try:
        with Writers(engine, tenant, [uuid.uuid4() for _ in range(keys)],
                     threads=threads) as writers:
            for round_ in range(kills):
                floor = states(engine).get("published", 0) + per_kill
                wait_until(lambda f=floor: states(engine).get("published", 0) >= f,
                           f"publication before kill {round_}", timeout=120)
                by_pid = {r.pid: r for r in running}
                caught: list[int] = []

                def batch_in_flight(pids: dict[int, Any] = by_pid,
                                    found: list[int] = caught) -> bool:
                    found[:] = [p for p in relays_in_flight(engine) if p in pids]
                    return bool(found)

                wait_until(batch_in_flight, "a relay with a batch in flight")
                victim = by_pid[caught[0]]
                victim.send_signal(signal.SIGKILL)
                victim.wait(timeout=10)
                killed.append(victim)
                running.remove(victim)
                running.append(spawn_relay(database_url, log_files[relays + round_], **env))
        assert writers.committed > 0 and writers.rolled_back > 0
        wait_until(lambda: set(states(engine)) == {"published"}, "every row to be published",
                   timeout=180)
        wait_until(lambda: all("relay started" in log.read_text()
                               for log in log_files[relays:]),
                   "the replacement relays to be up")
    finally:
        for r in running:
            r.terminate()
        for r in running:
            r.wait(timeout=30)
    assert [k.returncode for k in killed] == [-signal.SIGKILL] * kills
    assert [r.returncode for r in running] == [0] * relays  # SIGTERM: each finished its batch
