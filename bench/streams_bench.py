"""Events/s through each stream app (1 and 2 workers) versus a plain consumer (same run).

The baseline is a plain confluent-kafka consumer loop doing the same Avro decode **and the same
batched projection** into PostgreSQL (the app's `BatchProjector`, one transaction per batch):
the ratio says what Faust costs on top of the work itself. A last table shows the cost per
event at the start and at the end of one 2,000-message conversation (it must not grow).

    .venv/bin/python -m bench.streams_bench --tenants 10 --flows 100

`--tracing both` measures instead what tracing costs (docs/operating/tracing.md): every record
carries a `traceparent` header, and one worker per app runs with tracing off, on (a `project`
span per record, written to a JSON-lines file, `NMC_TRACES_DIR`), then off again; the figure is
the on/off ratio of events/s (the second "off" shows the run-to-run noise).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer
from sqlalchemy import Engine

from bench.common import published_history
from bench.results import add_json_option, write_json
from nmc.contract.envelope import new_event
from nmc.infra.avro_decoder import registry_decoder
from nmc.infra.db import upgrade
from nmc.infra.kafka_clients import consumer_config
from nmc.infra.net import free_port
from nmc.infra.schema_registry import registry_client
from nmc.infra.settings import get_settings
from nmc_streams.apps import APPS
from nmc_streams.batch import BatchProjector, Record
from nmc_streams.db import worker_engine as make_engine
from nmc_streams.metrics import StreamMetrics
from nmc_streams.postgres_store import PostgresStateStore
from tests.support.streams import (
    STARTED_PREFIXES,
    IsolatedTopics,
    fresh_database,
    start_worker,
    stop_worker,
)

BATCH = 1000


async def _never(record: Record, fact: Any, error: str, attempts: int) -> None:
    raise RuntimeError(f"benchmark history has a poison event: {error}")


def baseline(app: str, topics: list[str], expected: int, timeout: float = 600.0) -> float:
    """Plain consumer: poll batches, decode, project with the same code; events/s."""
    settings = get_settings()
    group = f"bench-baseline-{uuid.uuid4().hex[:8]}"
    STARTED_PREFIXES.add(group)  # removed with the bench's other groups at the end
    consumer = Consumer(consumer_config(settings, group))
    registry = registry_client(settings)
    with fresh_database(settings) as url:
        upgrade(url)
        engine = make_engine(url)
        projector = BatchProjector(
            app, APPS[app].model, PostgresStateStore(engine, app),
            registry_decoder(registry), _never, StreamMetrics(app),
        )
        consumer.subscribe(topics)
        n, first = 0, 0.0
        deadline = time.monotonic() + timeout
        try:
            while n < expected and time.monotonic() < deadline:
                messages = [m for m in consumer.consume(BATCH, 0.05) if not m.error()]
                if not messages:
                    continue
                if n == 0:
                    first = time.perf_counter()
                records = [
                    Record(m.topic() or "", m.partition() or 0, m.offset() or 0, m.key(),
                           m.value(), {})
                    for m in messages
                ]
                asyncio.run(projector.handle(records))
                consumer.commit(asynchronous=True)
                n += len(messages)
            return n / (time.perf_counter() - first)
        finally:
            consumer.close()
            registry.close()
            engine.dispose()


def _processed(port: int) -> float:
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return sum(
        float(m.group(1))
        for m in re.finditer(r"^nmc_streams_processed_total\{[^}]*\} (\S+)$", body, re.M)
    )


def through_app(app: str, topics: IsolatedTopics, expected: int, home: Path, workers: int,
                extra_env: dict[str, str] | None = None) -> float:
    """`workers` worker processes of one group on a fresh database; events/s, all workers."""
    with fresh_database(get_settings()) as url:
        upgrade(url)
        ports = [free_port() for _ in range(workers)]
        prefix = f"bench-{uuid.uuid4().hex[:8]}"
        procs = [
            start_worker(
                app, database_url=url, topic_suffix=topics.suffix, app_id_prefix=prefix,
                nmc_home=home, worker_id=f"bench-{i}", metrics_port=port,
                log_path=home / f"{app}-{i}.log", extra_env=extra_env,
            )
            for i, port in enumerate(ports)
        ]
        try:
            # Sampled every 50 ms (each sample renders the workers' /metrics, so not faster): a
            # small app can process its whole share between two samples, so the rate runs from
            # the last sample that saw nothing processed — at most 50 ms of idle time at each end
            # is counted against the app, never in its favour.
            idle = (time.perf_counter(), 0.0)
            latest = idle
            deadline = time.monotonic() + 900
            while latest[1] < expected:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{app}: {latest[1]:.0f} of {expected} events after 900 s")
                time.sleep(0.05)
                try:
                    latest = (time.perf_counter(), sum(_processed(p) for p in ports))
                except OSError:
                    continue
                if latest[1] == 0:
                    idle = latest
            return (latest[1] - idle[1]) / (latest[0] - idle[0])
        finally:
            for proc in procs:
                stop_worker(proc)


def long_conversation(
    engine: Engine, messages: int = 2000, window: int = 100
) -> tuple[float, float]:
    """ms per event for the first and the last `window` messages of one conversation, one
    event per batch (the worst case) through the conversation app's projector."""
    tenant, corr, conv = (str(uuid.uuid4()) for _ in range(3))
    t0 = datetime(2025, 9, 1, tzinfo=UTC)
    events = [new_event("nmc.conversation.ConversationStarted", tenant_id=tenant,
                        correlation_id=corr, occurred_at=t0,
                        payload={"conversation_id": conv, "caller_phone": "+13105551212"})]
    for i in range(messages):
        events.append(new_event(
            "nmc.conversation.MessageSent", tenant_id=tenant, correlation_id=corr,
            occurred_at=t0 + timedelta(seconds=i + 1),
            payload={"message_id": str(uuid.uuid4()), "conversation_id": conv,
                     "direction": "out", "status": "queued"}))
    projector = BatchProjector("conversation", APPS["conversation"].model,
                               PostgresStateStore(engine, "conversation"), lambda raw: raw,
                               _never, StreamMetrics("conversation"))
    timings: list[float] = []

    async def go() -> None:
        for offset, env in enumerate(events):
            value: dict[str, Any] = env.to_json()
            value["occurred_at"] = env.occurred_at
            started = time.perf_counter()
            await projector.handle([Record("bench", 0, offset, None, value, {})])  # type: ignore[arg-type]
            timings.append(time.perf_counter() - started)

    asyncio.run(go())
    first = sum(timings[1 : window + 1]) / window * 1000
    last = sum(timings[-window:]) / window * 1000
    return first, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--flows", type=int, default=100, help="flows per tenant")
    parser.add_argument("--apps", default="conversation,scheduling,reporting")
    parser.add_argument("--workers", default="1,2", help="worker counts to measure")
    parser.add_argument("--tracing", choices=("off", "both"), default="off",
                        help="both: measure tracing off / on / off (one worker) instead")
    add_json_option(parser)
    args = parser.parse_args()
    settings = get_settings()
    if args.tracing == "both":
        tracing_cost(args)
        return
    counts = [int(w) for w in args.workers.split(",")]
    figures: list[list[object]] = []
    with published_history(settings, args.tenants, args.flows) as (topics, events), \
            tempfile.TemporaryDirectory() as tmp:
        head = "".join(f"{f'{w} worker ev/s':>16}{'/worker':>9}" for w in counts)
        print(f"{'app':<14}{'events':>8}{'baseline ev/s':>15}{head}{'ratio (1w)':>12}")
        for app in args.apps.split(","):
            n = sum(1 for e in events if e.domain in APPS[app].domains)
            base = baseline(app, [topics.topics[d] for d in APPS[app].domains], n)
            line = f"{app:<14}{n:>8}{base:>15.0f}"
            rates = []
            for w in counts:
                rate = through_app(app, topics, n, Path(tmp), w)
                rates.append(rate)
                line += f"{rate:>16.0f}{rate / w:>9.0f}"
            print(f"{line}{rates[0] / base:>12.2f}", flush=True)
            figures.append([app, f"{n:,}", f"{base:,.0f}",
                            *(f"{rate:,.0f}" for rate in rates), f"{rates[0] / base:.2f}"])
    with fresh_database(settings) as url:
        upgrade(url)
        engine = make_engine(url)
        first, last = long_conversation(engine)
        engine.dispose()
    print(f"one conversation of 2,000 messages, one event per batch: messages 1-100 "
          f"{first:.2f} ms/event, messages 1901-2000 {last:.2f} ms/event "
          f"(ratio {last / first:.2f})")
    write_json(args.json, "streams_bench",
               ["app", "events", "baseline ev/s", *(f"{w} worker(s) ev/s" for w in counts),
                "ratio (1 worker)"], figures,
               notes=f"One conversation of 2,000 messages, one event per batch: messages 1-100 "
                     f"{first:.2f} ms/event, messages 1901-2000 {last:.2f} ms/event "
                     f"(ratio {last / first:.2f}).")


def tracing_cost(args: argparse.Namespace) -> None:
    """One worker per app: tracing off, on, off again, on a history whose records all carry a
    `traceparent`; events/s and the on/off ratio (against the mean of the two offs)."""
    figures: list[list[object]] = []
    with published_history(get_settings(), args.tenants, args.flows, traceparents=True) as (
            topics, events), tempfile.TemporaryDirectory() as tmp:
        print(f"{'app':<14}{'events':>8}{'off ev/s':>10}{'on ev/s':>10}{'off ev/s':>10}"
              f"{'on/off':>8}")
        for app in args.apps.split(","):
            n = sum(1 for e in events if e.domain in APPS[app].domains)
            traced = {"NMC_TRACES_DIR": str(Path(tmp) / f"traces-{app}")}
            off1 = through_app(app, topics, n, Path(tmp), 1)
            on = through_app(app, topics, n, Path(tmp), 1, traced)
            off2 = through_app(app, topics, n, Path(tmp), 1)
            spans = sum(len(p.read_text().splitlines())
                        for p in (Path(tmp) / f"traces-{app}").glob("*.jsonl"))
            ratio = on / ((off1 + off2) / 2)
            print(f"{app:<14}{n:>8}{off1:>10.0f}{on:>10.0f}{off2:>10.0f}{ratio:>8.2f}"
                  f"   ({spans:,} spans written)", flush=True)
            figures.append([app, f"{n:,}", f"{off1:,.0f}", f"{on:,.0f}", f"{off2:,.0f}",
                            f"{ratio:.2f}", f"{spans:,}"])
    write_json(args.json, "streams_bench_tracing",
               ["app", "events", "off ev/s", "on ev/s", "off again ev/s",
                "on / mean(off)", "spans written"], figures,
               notes="One worker per app; every record carries a traceparent header; on = a "
                     "`project` span per record written to a JSON-lines file.",
               module="streams_bench")


if __name__ == "__main__":
    main()
