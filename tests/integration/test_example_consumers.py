"""The runnable consumer examples under examples/ (Python; Node with kafkajs; Go with franz-go;
Java with kafka-clients and Apache Avro) read the real stack as another team would: every domain
topic by pattern (and nothing else), LZ4 batches included, decoded through the registry,
duplicates dropped by event_id, each key on the partition Java's formula predicts. Each runs
with `--exit-at-end` while another producer keeps writing to nmc.telephony, as on a busy shared
stack: it reads up to the end its partitions had when the group assigned them, commits and exits
(an example waiting to be idle might never end there).
`scripts/install.sh` (run by `make test`) installs every toolchain the examples need; only
someone running pytest on a machine that skipped it sees an example skipped, with the reason."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from kafka_support import BusyWriter, produce, telephony_events
from support import examples
from support.settings import PlatformSettings as Settings
from support.streams import remove_group
from support.waits import scaled, wait_until

from nmc.contract.dead_letter import dlq_topic
from nmc.contract.keys import java_partition
from nmc.demo.local_platform import commit_at_end
from nmc.infra.kafka_clients import (
    consumer_config,
    domain_topics,
    ensure_topics,
    producer_config,
)


@pytest.fixture
def group(stack: Settings) -> Iterator[str]:
    """A unique group, committed at the current end of the domain topics (a team joining now:
    it reads what comes next, not the whole history of a long-lived stack), and a dead-letter
    topic holding one record; both removed after."""
    name = f"example-test-{uuid.uuid4().hex[:8]}"
    commit_at_end(stack, name, domain_topics())
    ensure_topics(stack, [dlq_topic(name)])
    producer = Producer(producer_config(stack))
    producer.produce(dlq_topic(name), key=b"k", value=b"\x00not for consumers")
    assert producer.flush(30) == 0
    yield name
    remove_group(stack, name)


@pytest.fixture
def busy_writer(stack: Settings) -> Iterator[BusyWriter]:
    """Another producer writing to nmc.telephony all along, already delivering when the test
    starts its example; stopped after."""
    writer = BusyWriter(stack)
    writer.start()
    wait_until(lambda: writer.delivered > 0 or writer.error is not None,
               "the other producer's first delivery", 60)
    yield writer
    writer.stop()
    assert writer.error is None, writer.error


def _committed(stack: Settings, group: str, topic: str, partition: int) -> int:
    consumer = Consumer(consumer_config(stack, group))
    try:
        [tp] = consumer.committed([TopicPartition(topic, partition)], timeout=30)
        return tp.offset
    finally:
        consumer.close()


def _command(language: str) -> list[str]:
    try:
        return examples.build(language)  # `make test` started building them in the background
    except examples.ToolMissing as exc:
        pytest.skip(f"{exc}; every other example still runs")


@pytest.mark.parametrize("language", ["python", "node", "go", "java"])
def test_example_consumer(stack: Settings, group: str, busy_writer: BusyWriter,
                          language: str) -> None:
    command = _command(language)
    key, events = telephony_events()
    produce(stack, [events[0], events[1], events[0]])      # the first one delivered twice
    result = subprocess.run(
        [*command, "--bootstrap", stack.kafka, "--registry", stack.registry, "--group", group,
         "--exit-at-end"],
        capture_output=True, text=True, timeout=scaled(240), check=True)
    # it ended at the end while the other producer was still writing (checked again on stop)
    assert busy_writer.is_alive() and busy_writer.error is None, busy_writer.error
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines, result.stderr
    assert all(re.match(r"^nmc\.[a-z]+$", r["topic"]) for r in lines)   # no DLQ, no changelog
    assert dlq_topic(group) not in {r["topic"] for r in lines}
    mine = [r for r in lines if r["key"] == key]
    assert [(r["event_id"], "duplicate" in r) for r in mine] == [
        (str(events[0].event_id), False), (str(events[1].event_id), False),
        (str(events[0].event_id), True)]
    assert {r["partition"] for r in mine} == {java_partition(key, stack.nmc_topic_partitions)}
    assert "call_id" in mine[0]["payload_fields"]
    # what it handled was committed before it exited
    partition = mine[-1]["partition"]
    assert _committed(stack, group, mine[-1]["topic"], partition) > mine[-1]["offset"]
