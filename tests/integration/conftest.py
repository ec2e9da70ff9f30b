"""Integration fixtures of the processes: relays in threads, the edge app, tenants.

The stack, per-test databases and settings come from `support.fixtures` (registered by
tests/conftest.py through `pytest_plugins`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from edges_support import BASE_URL, fake_twilio_server, make_settings, new_tenant
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from support.settings import PlatformSettings as Settings
from support.streams import IsolatedTopics

from nmc.contract.schemas import SchemaCatalog
from nmc.demo.twilio_standin import LocalTwilio
from nmc.schema_gate.registry_api import Registry
from producers.edges.app import create_edge_app
from producers.edges.settings import EdgeSettings
from producers.relay.app import build_relay, run_relay
from producers.relay.relay import OutboxRelay
from producers.tenants import Tenant


@pytest.fixture
def copies(stack: Settings) -> Iterator[IsolatedTopics]:
    """Suffixed domain topics with the real (1.0.0) schemas registered; the topics and every
    subject of theirs (scratch versions and majors a test added too) removed after."""
    topics = IsolatedTopics(stack)
    yield topics
    topics.close()
    owned = tuple(t + "-" for t in topics.topics.values())
    with Registry(stack.registry) as registry:
        for subject in registry.subjects(deleted=True):
            if subject.startswith(owned):
                registry.delete_subject(subject)


@pytest.fixture
def relays(test_settings: Settings) -> Iterator[Callable[..., OutboxRelay]]:
    """Start in-process relays with their own schema files; stopped at teardown."""
    started: list[tuple[threading.Thread, threading.Event]] = []

    def _start(catalog: SchemaCatalog, **overrides: Any) -> OutboxRelay:
        settings = test_settings.model_copy(update={
            "nmc_relay_poll_interval_s": 0.2, "nmc_relay_batch_size": 40, **overrides})
        relay, stop = build_relay(settings, settings, catalog=catalog), threading.Event()
        thread = threading.Thread(target=run_relay, args=(settings, settings, stop, relay),
                                  daemon=True)
        thread.start()
        started.append((thread, stop))
        return relay

    yield _start
    for _, stop in started:
        stop.set()
    for thread, _ in started:
        thread.join(timeout=30)


@pytest.fixture
def relay_thread(test_settings: Settings) -> Iterator[Callable[..., threading.Thread]]:
    """Start in-process relays on the test database; all are stopped at teardown."""
    from producers.relay.app import run_relay

    started: list[tuple[threading.Thread, threading.Event]] = []

    def _start(**overrides: object) -> threading.Thread:
        settings = test_settings.model_copy(update=overrides)
        stop = threading.Event()
        thread = threading.Thread(target=run_relay, args=(settings, settings, stop), daemon=True)
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
