"""The runnable consumer examples under examples/ (Python; Node with kafkajs; Go with franz-go;
Java with kafka-clients and Apache Avro) read the real stack as another team would: every domain
topic by pattern (and nothing else), LZ4 batches included, decoded through the registry,
duplicates dropped by event_id, each key on the partition Java's formula predicts.
`scripts/install.sh` (run by `make test`) installs every toolchain the examples need; only
someone running pytest on a machine that skipped it sees an example skipped, with the reason."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer
from kafka_support import produce, telephony_events
from support.streams import remove_group

from nmc.contract.dead_letter import dlq_topic
from nmc.contract.keys import java_partition
from nmc.demo.local_platform import commit_at_end
from nmc.infra.kafka_clients import domain_topics, ensure_topics, producer_config
from nmc.infra.settings import PROJECT_ROOT, Settings

EXAMPLES = PROJECT_ROOT / "examples"
INSTALLED = str(Path(sys.executable).parent)  # where scripts/install.sh links a newer Go


def _tool(name: str) -> str | None:
    return shutil.which(name, path=INSTALLED) or shutil.which(name)


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


def _command(language: str, tmp_path: Path) -> list[str]:
    if language == "python":
        return [sys.executable, str(EXAMPLES / "python" / "consume.py")]
    if language == "java":
        java, mvn = _tool("java"), _tool("mvn")
        if java is None or mvn is None:
            pytest.skip("the Java example needs java and mvn, which `make install` installs "
                        "(Debian: openjdk-17-jdk-headless maven); every other example still runs")
        lib = EXAMPLES / "java" / "target" / "lib"
        if not lib.is_dir():
            subprocess.run([mvn, "-B", "-q", "dependency:copy-dependencies",
                            f"-DoutputDirectory={lib}"], cwd=EXAMPLES / "java", check=True,
                           capture_output=True, timeout=600)
        return [java, "-cp", f"{lib}/*", str(EXAMPLES / "java" / "Consume.java")]
    if language == "go":
        go = _tool("go")
        if go is None:
            pytest.skip("the Go example needs Go 1.22+, which `make install` installs (from the "
                        "Go module proxy into .venv/bin); every other example still runs")
        binary = tmp_path / "consume"
        subprocess.run([go, "build", "-o", str(binary), "."], cwd=EXAMPLES / "go", check=True,
                       capture_output=True, timeout=600)
        return [str(binary)]
    node, npm = _tool("node"), _tool("npm")
    if node is None or npm is None:
        pytest.skip("the Node example needs node and npm, which `make install` installs "
                    "(Debian: nodejs npm); every other example still runs")
    if not (EXAMPLES / "node" / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=EXAMPLES / "node",
                       check=True, capture_output=True, timeout=300)
    return [node, str(EXAMPLES / "node" / "consume.js")]


@pytest.mark.parametrize("language", ["python", "node", "go", "java"])
def test_example_consumer(stack: Settings, group: str, language: str, tmp_path: Path) -> None:
    command = _command(language, tmp_path)
    key, events = telephony_events()
    produce(stack, [events[0], events[1], events[0]])      # the first one delivered twice
    result = subprocess.run(
        [*command, "--bootstrap", stack.kafka, "--registry", stack.registry, "--group", group,
         "--idle-exit", "15"],
        capture_output=True, text=True, timeout=240, check=True)
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
