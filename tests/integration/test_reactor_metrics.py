"""`nmc reactor` with a metrics port: `/metrics` (the `nmc_reactor_*` names the alert rules use)
and `/healthz`, and its lag per partition back at 0 once it has consumed what was waiting."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from reactions_support import reactive_tenant
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from support.settings import PlatformSettings as Settings
from support.streams import remove_group

from nmc.contract.envelope import new_event
from nmc.demo.local_platform import commit_at_end
from nmc.infra.net import free_port
from producers.conversation.reactions.consumer import SOURCE_TOPICS
from producers.outbox import OutboxWriter

NUMBER, CALLS = "+13105550000", 6


def _samples(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


@pytest.fixture
def reactor_with_port(test_settings: Settings) -> Iterator[Callable[[], int]]:
    from producers.conversation.reactions.app import run_reactor
    from producers.conversation.reactions.settings import ReactorSettings

    group = f"test-reactor-metrics-{uuid.uuid4().hex[:8]}"
    knobs = ReactorSettings(group=group, metrics_port=free_port(), lag_interval_ms=200)
    stop, assigned = threading.Event(), threading.Event()
    thread = threading.Thread(target=run_reactor, args=(test_settings, knobs, stop, assigned),
                              kwargs={"writer": OutboxWriter()}, daemon=True)
    commit_at_end(test_settings, group, list(SOURCE_TOPICS))

    def start() -> int:
        thread.start()
        assert assigned.wait(60), "reactor got no partitions"
        return knobs.metrics_port

    yield start
    stop.set()
    if thread.is_alive():
        thread.join(timeout=30)
    remove_group(test_settings, group)


def test_the_reactor_serves_its_metrics_and_its_lag_returns_to_zero_after_consuming(
    engine: Engine, relay_thread: Callable[..., Any], reactor_with_port: Callable[[], int],
    wait_until: Callable[..., None],
) -> None:
    tenant = reactive_tenant(engine, NUMBER)
    calls = [new_event("nmc.telephony.CallDetected", tenant_id=tenant,
                       correlation_id=uuid.uuid4(), payload={
                           "call_id": str(uuid.uuid4()), "from_phone": f"+1310555{7000 + i}",
                           "to_phone": NUMBER, "reason": "no-answer", "provider_ref": "CA1"})
             for i in range(CALLS)]
    with Session(engine) as s, s.begin():
        OutboxWriter().append_all(s, calls)
    relay_thread(nmc_relay_poll_interval_s=0.2)

    def count(sql: str) -> int:
        with engine.connect() as conn:
            return int(conn.execute(text(sql), {"t": tenant}).scalar_one())

    # The calls wait on Kafka before the reactor starts: it begins behind them.
    calls_on = ("FROM outbox_events WHERE tenant_id = :t AND event_name = "
                "'nmc.telephony.CallDetected'")
    wait_until(lambda: count(f"SELECT count(*) {calls_on} AND state = 'published'") == CALLS,
               "the calls on Kafka")
    with engine.connect() as conn:
        partitions = {str(p) for p in conn.execute(
            text(f"SELECT DISTINCT kafka_partition {calls_on}"), {"t": tenant}).scalars()}
    port = reactor_with_port()
    health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    assert health.status_code == 200 and "last_turn_s_ago" in health.json()
    wait_until(lambda: count("SELECT count(*) FROM outbound_messages WHERE tenant_id = :t")
               == CALLS, "every call's auto-reply queued")

    def lags() -> dict[str, float]:
        return {dict(labels)["partition"]: value
                for (name, labels), value in _samples(port).items()
                if name == "nmc_reactor_lag_records" and dict(labels)["topic"] == "nmc.telephony"}

    # Zero on every partition that carried a call, and on every other one it reports.
    wait_until(lambda: partitions <= lags().keys() and not any(lags().values()),
               "the reactor's lag at 0 on the calls' partitions",
               explain=lambda: f"lag {lags()}, calls on partitions {sorted(partitions)}")
    samples = _samples(port)
    assert samples[("nmc_reactor_facts_total", (("outcome", "applied"),))] >= CALLS
    # one decision per call, each committed: the reactive tenant's texts are all queued
    assert samples[("nmc_reactor_auto_replies_total", (("decision", "queued"),))] == CALLS
    assert samples[("nmc_reactor_auto_replies_total", (("decision", "suppressed"),))] == 0
    assert ("nmc_reactor_facts_total", (("outcome", "dead-lettered"),)) in samples
    assert samples[("nmc_reactor_dead_lettered_total", ())] == 0
    assert samples[("nmc_reactor_batch_seconds_count", ())] >= 1
    assert samples[("nmc_reactor_batches_replayed_total", ())] == 0
