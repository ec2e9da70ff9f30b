"""Events/s through each stream app versus a plain confluent-kafka consumer loop (same run).

The baseline does the same Avro decode (confluent AvroDeserializer through the registry) and
the same in-memory dictionary update (the reducer's `apply`), but no Faust, no changelog and
no PostgreSQL projection; the ratio says what the framework and the read models cost.

    .venv/bin/python bench/streams_bench.py --tenants 10 --flows 100
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer
from confluent_kafka.serialization import MessageField, SerializationContext

from nmc.kafka import consumer_config
from nmc.registry import registry_client, value_deserializer
from nmc.settings import get_settings
from nmc_streams.db import upgrade
from nmc_streams.events import to_fact
from nmc_streams.runtime import SPECS
from nmc_streams.state import apply
from nmc_streams.testing import (
    IsolatedTopics,
    free_port,
    fresh_database,
    history,
    start_worker,
    wait_for,
)


def baseline(topics: list[str], expected: int, timeout: float = 300.0) -> float:
    """Plain consumer loop: poll, Avro-decode, reduce into a dict; events/s."""
    settings = get_settings()
    consumer = Consumer(consumer_config(settings, f"bench-baseline-{uuid.uuid4().hex[:8]}"))
    registry = registry_client(settings)
    deserialize = value_deserializer(registry)
    states: dict[str, Any] = {}
    consumer.subscribe(topics)
    n, first = 0, 0.0
    deadline = time.monotonic() + timeout
    try:
        while n < expected and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            if n == 0:
                first = time.perf_counter()
            topic = msg.topic() or ""
            fact = to_fact(
                deserialize(msg.value(), SerializationContext(topic, MessageField.VALUE))
            )
            states[fact.key] = apply(states.get(fact.key), fact)
            n += 1
        return (n - 1) / (time.perf_counter() - first)
    finally:
        consumer.close()
        registry.close()


def _processed(port: int) -> float:
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return sum(
        float(m.group(1))
        for m in re.finditer(r"^nmc_streams_processed_total\{[^}]*\} (\S+)$", body, re.M)
    )


def through_app(app: str, topics: IsolatedTopics, expected: int, home: Path) -> float:
    """One worker process on a fresh database; events/s from first to last processed event."""
    with fresh_database(get_settings()) as url:
        upgrade(url)
        port = free_port()
        worker = start_worker(
            app,
            database_url=url,
            topic_suffix=topics.suffix,
            app_id_prefix=f"bench-{uuid.uuid4().hex[:8]}",
            nmc_home=home,
            worker_id="bench",
            metrics_port=port,
            log_path=home / f"{app}.log",
        )
        try:
            samples: list[tuple[float, float]] = []

            def done() -> bool:
                try:
                    samples.append((time.perf_counter(), _processed(port)))
                except OSError:
                    return False
                return samples[-1][1] >= expected

            wait_for(done, f"{app} to process {expected} events", timeout=600)
            start = next(s for s in samples if s[1] > 0)
            return (samples[-1][1] - start[1]) / (samples[-1][0] - start[0])
        finally:
            worker.terminate()
            worker.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--flows", type=int, default=100, help="flows per tenant")
    parser.add_argument("--apps", default="conversation,scheduling,reporting")
    args = parser.parse_args()
    settings = get_settings()
    topics = IsolatedTopics(settings)
    events = history(42, [str(uuid.uuid4()) for _ in range(args.tenants)], args.flows)
    topics.publish(events)
    print(f"published {len(events)} events to *{topics.suffix}")
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'app':<14}{'events':>8}{'app ev/s':>12}{'baseline ev/s':>16}{'ratio':>8}")
        for app in args.apps.split(","):
            spec = SPECS[app]
            n = sum(1 for e in events if e.domain in spec.domains)
            base = baseline([topics.topics[d] for d in spec.domains], n)
            rate = through_app(app, topics, n, Path(tmp))
            print(f"{app:<14}{n:>8}{rate:>12.0f}{base:>16.0f}{rate / base:>8.3f}")
    topics.close()


if __name__ == "__main__":
    main()
