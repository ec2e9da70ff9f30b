"""Integration fixtures: the real stack, started (or reused) once per session.

With KAFKA_BOOTSTRAP_SERVERS / SCHEMA_REGISTRY_URL / DATABASE_URL set, those services are used
and nothing is started. Each test that needs PostgreSQL gets its own fresh, migrated database.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from edges_support import BASE_URL, fake_twilio_server, make_settings, new_tenant
from fastapi.testclient import TestClient
from pydantic import SecretStr
from rich.console import Console
from sqlalchemy import Engine

from nmc.bootstrap import prepare
from nmc.settings import PROJECT_ROOT, Settings, get_settings
from nmc.stack import ensure_up
from producers.db import make_engine, scratch_database
from producers.edges.app import create_edge_app
from producers.edges.settings import EdgeSettings
from producers.sender.local_twilio import LocalTwilio
from producers.tenants import Tenant


def _docker_compose_stack(request: pytest.FixtureRequest) -> Settings:
    """With a Docker engine and NMC_TESTCONTAINERS=1: docker-compose.kafka.yml via testcontainers.

    The compose file mirrors the local stack's ports, so the settings are the same URLs made
    explicit (external: nothing is started by `ensure_up`)."""
    from testcontainers.compose import DockerCompose

    compose = DockerCompose(str(PROJECT_ROOT), compose_file_name="docker-compose.kafka.yml",
                            wait=True)
    compose.start()
    request.addfinalizer(compose.stop)
    base = get_settings()
    return base.model_copy(update={
        "kafka_bootstrap_servers": base.kafka,
        "schema_registry_url": base.registry,
        "database_url": SecretStr(base.database),
    })


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest) -> Settings:
    """The real stack: the local one (started or reused), the services the environment
    points at, or docker compose through testcontainers when NMC_TESTCONTAINERS=1."""
    console = Console(stderr=True)
    if os.environ.get("NMC_TESTCONTAINERS") == "1":
        settings = _docker_compose_stack(request)
    else:
        settings = get_settings()
    ensure_up(settings, console)
    prepare(settings, console)
    return settings


@pytest.fixture(scope="session", autouse=True)
def _remove_stream_runs(request: pytest.FixtureRequest) -> Iterator[None]:
    """At the end of the session: the consumer groups and DLQ topics of every stream worker
    the tests started, so a long-lived stack does not collect them."""
    yield
    from nmc.demo_cleanup import remove_run
    from nmc_streams.testing import STARTED_PREFIXES

    if STARTED_PREFIXES:
        settings = get_settings()
        for prefix in sorted(STARTED_PREFIXES):
            remove_run(settings, prefix)


@pytest.fixture
def database_url(stack: Settings) -> Iterator[str]:
    """A fresh database for one test, migrated to head, dropped afterwards."""
    with scratch_database(stack.database, prefix="nmc_test") as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def test_settings(stack: Settings, database_url: str) -> Settings:
    """Settings pointing at the test's own database (Kafka and registry shared)."""
    return stack.model_copy(update={"database_url": SecretStr(database_url)})


@pytest.fixture
def wait_until() -> Callable[..., None]:
    """Poll `predicate` until true; fails with `what` after `timeout` (no timing is asserted)."""

    def _wait(predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout}s waiting for {what}")
            time.sleep(0.1)

    return _wait


@pytest.fixture
def relay_thread(test_settings: Settings) -> Iterator[Callable[..., threading.Thread]]:
    """Start in-process relays on the test database; all are stopped at teardown."""
    from producers.relay.app import run_relay

    started: list[tuple[threading.Thread, threading.Event]] = []

    def _start(**overrides: object) -> threading.Thread:
        settings = test_settings.model_copy(update=overrides)
        stop = threading.Event()
        thread = threading.Thread(target=run_relay, args=(settings, stop), daemon=True)
        thread.start()
        started.append((thread, stop))
        return thread

    yield _start
    for thread, stop in started:
        stop.set()
    for thread, _ in started:
        thread.join(timeout=30)


# --- ingestion edges ---------------------------------------------------------------------


@pytest.fixture
def edge_settings() -> EdgeSettings:
    return make_settings()


@pytest.fixture
def client(edge_settings: EdgeSettings, engine: Engine) -> Iterator[TestClient]:
    """The webhook/command app on the test database, requests signed for BASE_URL."""
    with TestClient(create_edge_app(edge_settings, engine), base_url=BASE_URL) as c:
        yield c


@pytest.fixture
def tenant(engine: Engine) -> Tenant:
    return new_tenant(engine)


@pytest.fixture
def fake_twilio() -> Iterator[LocalTwilio]:
    with fake_twilio_server() as fake:
        yield fake
