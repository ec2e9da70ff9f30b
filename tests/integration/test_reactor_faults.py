"""`nmc reactor` SIGKILLed at each point of a batch (before its write, after its commit, after
its offsets are stored), then restarted: every missed call gets exactly one text queued and
every inbound text is recorded once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from reactions_support import reactive_tenant
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from support.sessions import takeover_session_ms
from support.settings import PlatformSettings as Settings
from support.streams import remove_group

from nmc.contract.envelope import new_event
from nmc.demo.local_platform import commit_at_end
from nmc.infra.consume import end_offsets
from nmc.infra.kafka_clients import consumer_config
from producers.conversation.reactions.consumer import SOURCE_TOPICS
from producers.outbox import OutboxWriter

NUMBER = "+13105550000"
CALLS, TEXTS = 10, 4


def _facts(tenant: uuid.UUID) -> list[Any]:
    facts = []
    for i in range(CALLS):
        thread, caller = uuid.uuid4(), f"+1310555{7000 + i}"
        call = {"from_phone": caller, "to_phone": NUMBER, "reason": "no-answer",
                "provider_ref": "CA1"}
        facts.append(new_event("nmc.telephony.CallDetected", tenant_id=tenant,
                               correlation_id=thread,
                               payload={"call_id": str(uuid.uuid4()), **call}))
        if i < TEXTS:
            facts.append(new_event("nmc.telephony.InboundSmsReceived", tenant_id=tenant,
                                   correlation_id=thread, payload={
                                       "message_id": str(uuid.uuid4()), "from_phone": caller,
                                       "to_phone": NUMBER, "body": "hi", "provider_ref": "SM1"}))
            facts.append(new_event("nmc.telephony.CallDetected", tenant_id=tenant,
                                   correlation_id=thread,
                                   payload={"call_id": str(uuid.uuid4()), **call}))
    return facts


def _count(engine: Engine, sql: str, tenant: uuid.UUID) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql), {"t": tenant}).scalar_one())


def _committed_past(settings: Settings, group: str, ends: list[TopicPartition]) -> bool:
    consumer = Consumer(consumer_config(settings, group))
    try:
        done = consumer.committed(ends, timeout=10)
    finally:
        consumer.close()
    target = {(p.topic, p.partition): p.offset for p in ends}
    return all(p.offset >= target[(p.topic, p.partition)] for p in done)


@pytest.fixture
def reactor_process(test_settings: Settings, database_url: str,
                    tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """`start(group, **env)`: an `nmc reactor` process; at teardown every one is stopped, then
    its group removed (a group with a live member cannot be deleted)."""
    procs: list[subprocess.Popen[bytes]] = []
    groups: set[str] = set()

    def start(group: str, **env: str) -> subprocess.Popen[bytes]:
        full = dict(os.environ, DATABASE_URL=database_url, NMC_REACTIONS_GROUP=group,
                    NMC_REACTIONS_BATCH_MAX="4",
                    NMC_REACTIONS_SESSION_TIMEOUT_MS=str(takeover_session_ms(test_settings)),
                    **env)
        with (tmp_path / "reactor.log").open("ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", "nmc.cli", "reactor"], env=full,
                                    stdout=out, stderr=subprocess.STDOUT)
        procs.append(proc)
        groups.add(group)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)
    for group in groups:
        remove_group(test_settings, group)


@pytest.mark.fault
@pytest.mark.parametrize("point", ["before-write", "after-commit", "after-store"])
def test_reactor_killed_mid_batch_queues_each_text_exactly_once(
    point: str, test_settings: Settings, engine: Engine, relay_thread: Callable[..., Any],
    reactor_process: Callable[..., subprocess.Popen[bytes]], wait_until: Callable[..., None],
) -> None:
    tenant = reactive_tenant(engine, NUMBER)
    group = f"test-reactor-kill-{uuid.uuid4().hex[:8]}"
    commit_at_end(test_settings, group, list(SOURCE_TOPICS))
    with Session(engine) as s, s.begin():
        OutboxWriter().append_all(s, _facts(tenant))
    relay_thread(nmc_relay_poll_interval_s=0.2)
    wait_until(lambda: _count(engine, "SELECT count(*) FROM outbox_events WHERE "
                              "tenant_id = :t AND state <> 'published'", tenant) == 0,
               "the facts on Kafka")
    ends = end_offsets(test_settings, list(SOURCE_TOPICS))
    crashed = reactor_process(group, NMC_REACTIONS_CRASH_AFTER_BATCHES="2",
                              NMC_REACTIONS_CRASH_POINT=point,
                              NMC_REACTIONS_OFFSET_RESET="earliest")
    assert crashed.wait(120) == -signal.SIGKILL
    reactor_process(group)
    wait_until(lambda: _committed_past(test_settings, group, ends),
               "the restarted reactor to commit past every fact", timeout=120)
    queued = "SELECT count(*) FROM outbound_messages WHERE tenant_id = :t"
    per_thread = ("SELECT count(*) FROM (SELECT correlation_id FROM outbound_messages "
                  "WHERE tenant_id = :t GROUP BY correlation_id HAVING count(*) > 1) d")
    events = ("SELECT count(*) FROM outbox_events WHERE tenant_id = :t AND event_name = "
              "'nmc.conversation.MessageSent' AND payload->>'direction' = '{}'")
    assert _count(engine, queued, tenant) == CALLS
    assert _count(engine, per_thread, tenant) == 0
    assert _count(engine, events.format("out"), tenant) == CALLS
    assert _count(engine, events.format("in"), tenant) == TEXTS
