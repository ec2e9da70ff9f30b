"""Reactor benchmark: facts/s of `ConversationReactor` (batched, as `nmc reactor` runs it)
versus a plain confluent-kafka consumer doing the same decisions and writes, same run.

    .venv/bin/python -m bench.reactor [--tenants 20] [--conversations 10000] [--texts 2]

Each conversation is one missed call (CallDetected: starts the conversation, queues the
auto-reply) and `--texts` inbound texts (InboundSmsReceived: recorded), so every fact is
one the reactor acts on (the worst case; others are filtered by header). Facts go to fresh
isolated topics; each contender reacts on its own fresh database with the same tenants (live
subscription, approved campaign). Facts/s run from partition assignment to the last fact;
"per CPU-s" divides by this process's CPU time over that window (its Kafka client threads
included, PostgreSQL not), a figure that depends less on how busy a shared machine is.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

from confluent_kafka import Consumer, Producer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from bench.common import bench_writer, ready_settings, scratch_database
from bench.results import add_json_option, table_data, write_json
from nmc.contract.envelope import Envelope, new_event
from nmc.contract.headers import decode_headers
from nmc.infra.avro_decoder import registry_decoder
from nmc.infra.db import make_engine
from nmc.infra.kafka_clients import consumer_config, ensure_topics, producer_config
from nmc.infra.schema_registry import registry_client
from nmc.infra.settings import Settings
from producers.compliance.campaigns import set_campaign_status
from producers.conversation.reactions.apply import react_batch
from producers.conversation.reactions.consumer import ConversationReactor, to_trigger
from producers.conversation.reactions.decide import HANDLED
from producers.conversation.reactions.settings import ReactorSettings
from producers.tables import subscriptions
from producers.tenants.store import add_tenant
from tests.support.streams import IsolatedTopics, remove_group

console = Console()
GOAL_RATE = 5000
GOAL_RATIO = 0.5


def make_facts(tenants: list[uuid.UUID], conversations: int, texts: int) -> list[Envelope]:
    now = datetime.now(UTC).replace(microsecond=0)
    facts = []
    for i in range(conversations):
        tenant, thread = tenants[i % len(tenants)], uuid.uuid4()
        caller, number = f"+1310{5_000_000 + i:07d}", f"+1415555{tenants.index(tenant):04d}"
        facts.append(new_event("nmc.telephony.CallDetected", tenant_id=tenant,
                               correlation_id=thread, occurred_at=now, payload={
                                   "call_id": str(uuid.uuid4()), "from_phone": caller,
                                   "to_phone": number, "reason": "no-answer",
                                   "provider_ref": "CA1"}))
        facts += [new_event("nmc.telephony.InboundSmsReceived", tenant_id=tenant,
                            correlation_id=thread, occurred_at=now, payload={
                                "message_id": str(uuid.uuid4()), "from_phone": caller,
                                "to_phone": number, "body": "hello?", "provider_ref": "SM1"})
                  for _ in range(texts)]
    return facts


def add_tenants(engine: Engine, ids: list[uuid.UUID]) -> None:
    now = datetime.now(UTC)
    with Session(engine) as s, s.begin():
        for n, tenant_id in enumerate(ids):
            add_tenant(s, name=f"Bench {n}", numbers=[f"+1415555{n:04d}"], time_zone="UTC",
                       tenant_id=tenant_id, stripe_customer_id=f"cus_bench{n}")
            s.execute(subscriptions.insert().values(
                stripe_subscription_id=f"sub_bench{n}", tenant_id=tenant_id,
                stripe_customer_id=f"cus_bench{n}", plan="pro", status="active",
                current_period_end=now + timedelta(days=30), source_created=now))
            set_campaign_status(s, bench_writer(), tenant_id, uuid.uuid4(), "approved", now)


def queued_texts(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM outbound_messages")).scalar_one())


Rates = tuple[float, float]  # facts per wall second, facts per CPU-second of this process


def run_reactor(settings: Settings, knobs: ReactorSettings, topics: list[str],
                expected: int) -> Rates:
    """The reactor as `nmc reactor` wires it, in a thread; facts/s."""
    group = f"bench-reactor-{uuid.uuid4().hex[:8]}"
    ensure_topics(settings, [f"nmc.dlq.{group}", f"nmc.replay.{group}"])
    engine = make_engine(settings.database)
    registry = registry_client(settings)
    consumer = Consumer(consumer_config(
        settings, group, **{"enable.auto.commit": True, "enable.auto.offset.store": False,
                            "auto.offset.reset": "earliest"}))
    reactor = ConversationReactor(
        consumer, registry_decoder(registry), engine, Producer(producer_config(settings)),
        group, 5, 1.0, batch_max=knobs.batch_max,
        batch_wait_s=knobs.batch_wait_ms / 1000, topics=tuple(topics),
        writer=bench_writer())
    stop, assigned = threading.Event(), threading.Event()
    thread = threading.Thread(target=reactor.run, args=(stop, assigned), daemon=True)
    thread.start()
    try:
        assigned.wait(60)
        started, cpu = time.perf_counter(), time.process_time()
        while reactor.metrics.handled() < expected:
            time.sleep(0.01)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        batches = reactor.metrics.registry.get_sample_value("nmc_reactor_batch_seconds_count")
        console.print(f"reactor: {batches:.0f} batches, {expected / (batches or 1):,.0f} "
                      "records per batch on average")
    finally:
        stop.set()
        thread.join(60)
        engine.dispose()
        registry.close()
        remove_group(settings, group)
    return expected / elapsed, expected / cpu


def run_baseline(settings: Settings, topics: list[str], expected: int, batch: int) -> Rates:
    """A plain consumer loop: consume a batch, filter by header, decode, `react_batch` in one
    transaction, commit offsets; facts/s."""
    group = f"bench-reactor-plain-{uuid.uuid4().hex[:8]}"
    engine = make_engine(settings.database)
    registry = registry_client(settings)
    decode = registry_decoder(registry)
    writer = bench_writer()
    consumer = Consumer(consumer_config(settings, group, **{"auto.offset.reset": "earliest"}))
    consumer.subscribe(topics)
    n, started, cpu = 0, 0.0, 0.0
    try:
        while n < expected:
            msgs = [m for m in consumer.consume(batch, 0.05) if not m.error()]
            if not msgs:
                continue
            if not started:
                started, cpu = time.perf_counter(), time.process_time()
            facts = [to_trigger(decode(m.value() or b"")) for m in msgs
                     if decode_headers(m.headers()).get("event_name") in HANDLED]
            with Session(engine) as s, s.begin():
                react_batch(s, facts, writer)
            consumer.commit(asynchronous=True)
            n += len(msgs)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        consumer.close()
        engine.dispose()
        registry.close()
        remove_group(settings, group)
    return expected / elapsed, expected / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--texts", type=int, default=2, help="inbound texts per conversation")
    add_json_option(parser)
    args = parser.parse_args()
    base = ready_settings(Console(stderr=True))
    knobs = ReactorSettings()  # NMC_REACTIONS_BATCH_MAX, NMC_REACTIONS_BATCH_WAIT_MS
    tenant_ids = [uuid.uuid4() for _ in range(args.tenants)]
    facts = make_facts(tenant_ids, args.conversations, args.texts)
    topics = IsolatedTopics(base)
    try:
        topics.publish(facts)
        names = [topics.topics["telephony"], topics.topics["conversation"]]
        results: dict[str, Rates] = {}
        for name in ("plain consumer", "reactor"):
            with scratch_database(base) as settings:
                engine = make_engine(settings.database)
                add_tenants(engine, tenant_ids)
                if name == "reactor":
                    measured = run_reactor(settings, knobs, names, len(facts))
                else:
                    measured = run_baseline(settings, names, len(facts),
                                            knobs.batch_max)
                texts = queued_texts(engine)
                engine.dispose()
            if texts != args.conversations:
                raise SystemExit(f"{name}: {texts} texts queued for {args.conversations} calls")
            results[name] = measured
    finally:
        topics.close()
    (plain, plain_cpu), (rate, rate_cpu) = results["plain consumer"], results["reactor"]
    ratio = rate / plain
    table = Table(title=f"Reactor benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
                        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
                        f"{len(facts):,} facts, {args.conversations:,} missed calls)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("goal")
    table.add_row("plain consumer, same decisions and writes",
                  f"{plain:,.0f} facts/s ({plain_cpu:,.0f} per CPU-s)", "")
    table.add_row(f"reactor (batch {knobs.batch_max})",
                  f"{rate:,.0f} facts/s ({rate_cpu:,.0f} per CPU-s)",
                  "[green]met[/]" if rate >= GOAL_RATE else "[red]not met[/]")
    table.add_row("reactor / plain consumer", f"{ratio:.2f}",
                  "[green]met[/]" if ratio >= GOAL_RATIO else "[red]not met[/]")
    console.print(table)
    write_json(args.json, "reactor", *table_data(table), notes=(
        f"{len(facts):,} facts ({args.conversations:,} missed calls, {args.texts} inbound texts "
        f"each), all acted on, batch {knobs.batch_max}. Per CPU-s: facts per "
        "CPU-second of the bench process over the contender's run (Kafka client threads "
        "included, PostgreSQL not)."))


if __name__ == "__main__":
    main()
