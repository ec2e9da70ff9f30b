"""The relay is a daemon (issue #9): it outlives its PostgreSQL session, a PostgreSQL restart and
a broker that is down when it starts — same process, nothing lost, per-key order kept."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from relay_support import (
    WRITER,
    Writers,
    assert_complete_and_in_order,
    commit_order,
    healthz,
    kafka_events,
    message,
    relay_backends,
    spawn_relay,
    states,
    terminate_relay_sessions,
)
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from support.settings import PlatformSettings as Settings

from nmc.infra.consume import end_offsets
from nmc.infra.kafka_clients import domain_topics
from nmc.infra.net import free_port
from nmc.stack import ensure_up, pidfile
from nmc.stack import postgres as pg_service
from nmc.stack.layout import Layout
from nmc.stack.model import local_services
from nmc.stack.procs import stop as stop_process

pytestmark = pytest.mark.fault  # `make test-stress` runs these under a CPU hog

QUIET = Console(stderr=True, quiet=True)


def _all_published(engine: Engine) -> Callable[[], bool]:
    return lambda: set(states(engine)) == {"published"}


@pytest.fixture
def relay_port(database_url: str, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A relay process with its probe on a free port; terminated (SIGTERM) at teardown."""
    port, log = free_port(), tmp_path / "relay.log"
    relay = spawn_relay(database_url, log, NMC_RELAY_METRICS_PORT=str(port))
    yield port, log
    assert relay.poll() is None, f"the relay process exited:\n{log.read_text()[-3000:]}"
    relay.terminate()
    assert relay.wait(timeout=30) == 0, log.read_text()[-3000:]


def _write(engine: Engine, tenant: uuid.UUID, keys: list[uuid.UUID], rounds: int) -> None:
    for _ in range(rounds):
        with Session(engine) as s, s.begin():
            WRITER.append_all(s, [message(tenant, k) for k in keys])


def test_relay_survives_pg_terminate_backend_of_its_session(
    test_settings: Settings, engine: Engine, relay_port: tuple[int, Path],
    wait_until: Callable[..., None],
) -> None:
    port, log = relay_port
    tenant, keys = uuid.uuid4(), [uuid.uuid4() for _ in range(12)]
    start = end_offsets(test_settings, domain_topics())
    wait_until(lambda: healthz(port)[0] == 200, "the relay to report healthy")
    with Writers(engine, tenant, keys, threads=3):
        for round_ in range(3):  # terminate its session three times while writers commit
            floor = states(engine).get("published", 0) + 30
            wait_until(lambda f=floor: states(engine).get("published", 0) >= f,
                       f"publication before termination {round_}")
            old = set(relay_backends(engine))
            assert old and terminate_relay_sessions(engine) >= 1
            wait_until(lambda o=old: bool(relay_backends(engine))
                       and not set(relay_backends(engine)) & o,
                       "the relay to come back on a new session")
    wait_until(_all_published(engine), "every committed row to be published")
    status, body = healthz(port)
    assert status == 200 and body["postgres_connected"] and body["lanes_held"] == 64
    assert log.read_text().count("lost the PostgreSQL session") >= 3
    assert_complete_and_in_order(commit_order(engine), kafka_events(test_settings, start, tenant))


def _local(stack: Settings, service: str) -> None:
    if not local_services(stack)[service]:
        pytest.skip(f"stops and restarts {service}, which it may only do to the local stack; "
                    "the environment points at an external one")


def _probe(port: int) -> tuple[int, object]:
    status, body = healthz(port)
    return status, body.get("postgres_connected")


@pytest.mark.serial
def test_relay_survives_a_postgres_restart(
    stack: Settings, test_settings: Settings, engine: Engine, relay_port: tuple[int, Path],
    wait_until: Callable[..., None],
) -> None:
    _local(stack, "postgres")
    port, log = relay_port
    tenant, keys = uuid.uuid4(), [uuid.uuid4() for _ in range(10)]
    start = end_offsets(test_settings, domain_topics())
    _write(engine, tenant, keys, rounds=5)
    wait_until(_all_published(engine), "the first rows to be published")

    layout = Layout.of(stack)
    pg_service.stop(layout, lambda _m: None)
    try:
        wait_until(lambda: _probe(port) == (503, False), "the probe to report PostgreSQL gone")
        wait_until(lambda: "waiting for PostgreSQL" in log.read_text(),
                   "the relay to say what it waits for")
    finally:
        ensure_up(stack, QUIET)
    engine.dispose()  # the pool's sessions died with the server
    _write(engine, tenant, keys, rounds=5)
    wait_until(_all_published(engine), "rows written after the restart to be published")
    wait_until(lambda: healthz(port)[0] == 200, "the probe to report healthy again")
    assert states(engine) == {"published": 100}
    assert_complete_and_in_order(commit_order(engine), kafka_events(test_settings, start, tenant))


@pytest.mark.serial
def test_relay_started_while_the_broker_is_down_publishes_once_it_is_up(
    stack: Settings, test_settings: Settings, engine: Engine, database_url: str,
    wait_until: Callable[..., None], tmp_path: Path,
) -> None:
    _local(stack, "kafka")
    tenant, keys = uuid.uuid4(), [uuid.uuid4() for _ in range(10)]
    start = end_offsets(test_settings, domain_topics())
    _write(engine, tenant, keys, rounds=3)
    layout = Layout.of(stack)
    record = pidfile.read(layout.pidfile("kafka"))
    assert record is not None
    port, log = free_port(), tmp_path / "relay.log"
    try:
        stop_process(record, 60)
        pidfile.remove(layout.pidfile("kafka"))
        relay = spawn_relay(database_url, log, NMC_RELAY_METRICS_PORT=str(port))
        wait_until(lambda: "waiting for Kafka" in log.read_text(),
                   "the relay to say it waits for Kafka")
        status, body = healthz(port)
        assert status == 503 and body["kafka_connected"] is False
        assert relay.poll() is None
        _write(engine, tenant, keys, rounds=2)  # more rows while it waits
    finally:
        ensure_up(stack, QUIET)
    try:
        wait_until(_all_published(engine), "every row to be published", timeout=120)
        wait_until(lambda: healthz(port)[0] == 200, "the probe to report healthy")
        assert relay.poll() is None  # the same process, never restarted
    finally:
        relay.terminate()
        assert relay.wait(timeout=30) == 0, log.read_text()[-3000:]
    assert states(engine) == {"published": 50}
    assert_complete_and_in_order(commit_order(engine), kafka_events(test_settings, start, tenant))
