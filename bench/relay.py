"""Relay benchmark: backlog drain rate vs the raw producer ceiling, and steady-state latency.

    .venv/bin/python -m bench.relay [--backlog 100000] [--rate 1000] [--seconds 20]

1. Writes a backlog of MessageSent events through the OutboxWriter, then times one relay
   draining it (events/s).
2. Baseline in the same run: confluent-kafka producing the same records (same Avro values,
   keys, headers, producer config) straight from memory — the ceiling the relay can approach.
3. Steady load: writers commit `--rate` events/s for `--seconds`; latency is commit ->
   Kafka ack (the row's published_at, written right after the ack), p50/p99.
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from datetime import UTC, datetime

from confluent_kafka import Producer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import text

from bench.common import percentile, ready_settings, scratch_database
from nmc.contract.schemas import default_catalog
from nmc.kafka import producer_config
from nmc.registry import registry_client
from nmc.settings import Settings
from producers.db import make_engine, psycopg_dsn
from producers.envelope import Envelope, new_event
from producers.outbox import OutboxWriter
from producers.relay.app import run_relay
from producers.relay.publisher import KafkaPublisher
from producers.relay.store import OutboxRow

console = Console()


def make_events(n: int, keys: int) -> list[Envelope]:
    tenant = uuid.uuid4()
    conversations = [uuid.uuid4() for _ in range(keys)]
    return [
        new_event(
            "nmc.conversation.MessageSent", tenant_id=tenant,
            correlation_id=conversations[i % keys],
            payload={"message_id": str(uuid.uuid4()), "conversation_id": str(conversations[0]),
                     "direction": "out", "status": "queued"},
        )
        for i in range(n)
    ]


def write_backlog(settings: Settings, events: list[Envelope], chunk: int = 1000) -> float:
    engine = make_engine(settings.database)
    writer = OutboxWriter()
    started = time.perf_counter()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("writing backlog", total=len(events))
        for i in range(0, len(events), chunk):
            with engine.begin() as conn:
                writer.append_all(conn, events[i : i + chunk])
            progress.advance(task, min(chunk, len(events) - i))
    engine.dispose()
    return time.perf_counter() - started


def pending(settings: Settings) -> int:
    engine = make_engine(settings.database)
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM outbox_events WHERE state = 'pending'"))
        value = int(n.scalar_one())
    engine.dispose()
    return value


def drain(settings: Settings, total: int) -> float:
    stop = threading.Event()
    thread = threading.Thread(target=run_relay, args=(settings, stop), daemon=True)
    started = time.perf_counter()
    thread.start()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("relay draining", total=total)
        while (left := pending(settings)) > 0:
            progress.update(task, completed=total - left)
            time.sleep(0.2)
    elapsed = time.perf_counter() - started
    stop.set()
    thread.join(timeout=60)
    return elapsed


def raw_ceiling(settings: Settings, events: list[Envelope]) -> float:
    """Same records, pre-serialized, produced from memory with the relay's producer config."""
    catalog = default_catalog()
    registry = registry_client(settings)
    encoder = KafkaPublisher(Producer(producer_config(settings)), registry, catalog, 30.0)
    records = []
    for i, e in enumerate(events):
        row = OutboxRow(
            id=i, event_id=e.event_id, event_name=e.event_name, schema_version=e.schema_version,
            tenant_id=e.tenant_id, correlation_id=e.correlation_id, causation_id=e.causation_id,
            occurred_at=e.occurred_at, payload=e.payload, topic=e.topic, record_key=e.key,
            attempts=0, created_at=datetime.now(UTC),
        )
        value, headers = encoder.encode(row)
        records.append((e.topic, e.key.encode(), value, headers,
                        int(e.occurred_at.timestamp() * 1000)))
    registry.close()
    producer = Producer(producer_config(settings))
    started = time.perf_counter()
    for topic, key, value, headers, ts in records:
        while True:
            try:
                producer.produce(topic, key=key, value=value, headers=headers, timestamp=ts)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    producer.flush(60)
    return time.perf_counter() - started


def steady_latency(settings: Settings, rate: int, seconds: float) -> tuple[list[float], int]:
    """Commit `rate` events/s (in 10 ms ticks) with a relay running; commit -> ack latencies."""
    stop = threading.Event()
    relay = threading.Thread(target=run_relay, args=(settings, stop), daemon=True)
    relay.start()
    time.sleep(1.0)  # let the relay lease its lanes before the clock starts
    engine = make_engine(settings.database)
    writer = OutboxWriter()
    committed: dict[str, datetime] = {}
    per_tick = max(1, rate // 100)
    events = make_events(int(rate * seconds) + per_tick, keys=200)
    started = time.perf_counter()
    sent = 0
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"steady {rate}/s", total=len(events))
        while time.perf_counter() - started < seconds:
            tick = events[sent : sent + per_tick]
            with engine.begin() as conn:
                writer.append_all(conn, tick)
            now = datetime.now(UTC)
            for e in tick:
                committed[str(e.event_id)] = now
            sent += len(tick)
            progress.update(task, completed=sent)
            next_tick = started + sent / rate
            delay = next_tick - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
    achieved = sent / (time.perf_counter() - started)
    while pending(settings) > 0:
        time.sleep(0.2)
    stop.set()
    relay.join(timeout=60)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT event_id::text, published_at FROM outbox_events WHERE state = 'published'"))
        latencies = [(published - committed[eid]).total_seconds() * 1000
                     for eid, published in rows if eid in committed]
    engine.dispose()
    return latencies, int(achieved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()

    base = ready_settings(Console(stderr=True))
    events = make_events(args.backlog, keys=1000)
    with scratch_database(base) as settings:
        write_s = write_backlog(settings, events)
        console.print(f"backlog of {args.backlog} written in {write_s:.1f}s "
                      f"({args.backlog / write_s:,.0f} events/s through OutboxWriter)")
        relay_s = drain(settings, args.backlog)
    ceiling_s = raw_ceiling(base, events)
    with scratch_database(base) as settings:
        latencies, achieved = steady_latency(settings, args.rate, args.seconds)

    relay_rate, ceiling_rate = args.backlog / relay_s, args.backlog / ceiling_s
    table = Table(title=f"Relay benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
                        f"psycopg dsn {psycopg_dsn(base.database).split('@')[-1]})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row(f"relay drain, {args.backlog:,} backlog", f"{relay_rate:,.0f} events/s")
    table.add_row("raw producer ceiling (same records)", f"{ceiling_rate:,.0f} events/s")
    table.add_row("relay / ceiling", f"{relay_rate / ceiling_rate:.2f}")
    table.add_row(f"steady load (target {args.rate}/s)", f"{achieved:,} events/s committed")
    table.add_row("commit -> ack p50", f"{percentile(latencies, 50):.1f} ms")
    table.add_row("commit -> ack p99", f"{percentile(latencies, 99):.1f} ms")
    table.add_row("latency samples", f"{len(latencies):,}")
    console.print(table)


if __name__ == "__main__":
    main()
