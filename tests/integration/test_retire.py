"""Issue #22 item 3 on the real stack: `nmc schemas retire` refuses while a group lags behind
the last v1 record, names it and its lag, and retires once the group caught up.

Runs the real command (a subprocess) on isolated copies of the domain topics (`--topic-suffix`),
with v1 CallDetected records published there and a scratch v2 registered beside them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from support.evolution import EVENT, major_copy
from support.settings import PlatformSettings as Settings
from support.streams import IsolatedTopics, remove_group
from test_major_window import major_writer, register_major

from nmc.contract.envelope import Envelope, InvalidEvent, new_event
from nmc.contract.schemas import default_catalog, subject_for
from nmc.infra.consume import end_offsets
from nmc.infra.kafka_clients import consumer_config
from nmc.schema_gate.registry_api import Registry


@pytest.fixture
def group(stack: Settings) -> Iterator[str]:
    name = f"test-retire-{uuid.uuid4().hex[:8]}"
    yield name
    remove_group(stack, name)


def _commit(settings: Settings, group: str, offsets: list[TopicPartition]) -> None:
    consumer = Consumer(consumer_config(settings, group))
    try:
        consumer.commit(offsets=offsets, asynchronous=False)
    finally:
        consumer.close()


def _retire(settings: Settings, suffix: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DATABASE_URL=settings.database, SCHEMA_REGISTRY_URL=settings.registry,
               KAFKA_BOOTSTRAP_SERVERS=settings.kafka)
    return subprocess.run(
        [sys.executable, "-m", "nmc.cli", "schemas", "retire", EVENT, "--major", "1",
         "--topic-suffix", suffix, *extra],
        env=env, capture_output=True, text=True, timeout=120, check=False)


def _calls(n: int) -> list[Envelope]:
    tenant = uuid.uuid4()
    return [new_event(EVENT, tenant_id=tenant, correlation_id=uuid.uuid4(),
                      occurred_at=datetime.now(UTC),
                      payload={"call_id": str(uuid.uuid4()), "from_phone": "+13105551212",
                               "to_phone": "+13105550000", "reason": "busy",
                               "provider_ref": "CA1"}) for _ in range(n)]


def test_retire_refuses_while_a_group_lags_and_names_it_then_retires(
    test_settings: Settings, engine: Engine, copies: IsolatedTopics, tmp_path: Path,
    group: str,
) -> None:
    v2 = major_copy(tmp_path / "v2")
    register_major(test_settings, copies, v2, 2)
    topic = copies.topics["telephony"]
    copies.publish(_calls(12))
    ends = end_offsets(test_settings, [topic])
    assert sum(tp.offset for tp in ends) == 12
    _commit(test_settings, group, [TopicPartition(topic, tp.partition, 0) for tp in ends])

    for extra in ((), ("--dry-run",)):
        refused = _retire(test_settings, copies.suffix, *extra)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "REFUSED" in refused.stdout
        assert f"group {group} is 12 records behind the last v1 {EVENT} on {topic}" \
            in refused.stdout

    _commit(test_settings, group, ends)  # the group read everything
    dry = _retire(test_settings, copies.suffix, "--dry-run")
    assert dry.returncode == 0 and "OK (dry run)" in dry.stdout, dry.stdout + dry.stderr
    subject = subject_for(topic, "nmc.telephony.v1.CallDetected")
    with Registry(test_settings.registry) as registry:
        assert registry.versions(subject), "a dry run changes nothing"

    done = _retire(test_settings, copies.suffix)
    assert done.returncode == 0 and "RETIRED" in done.stdout, done.stdout + done.stderr
    assert f'NMC_RETIRED_MAJORS=\'{{"{EVENT}":[1]}}\'' in done.stdout
    with Registry(test_settings.registry) as registry:
        assert registry.versions(subject) == []
    # a writer asking now is told v1 is gone and refuses it
    v1_only = major_writer(test_settings, default_catalog(), copies.suffix, {})
    with Session(engine) as session, session.begin(), pytest.raises(InvalidEvent) as caught:
        v1_only.append(session, _calls(1)[0])
    assert subject in str(caught.value)

