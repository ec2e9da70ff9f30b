"""Integration fixtures of the processes: relays in threads, the edge app, tenants.

The stack, per-test databases and settings come from `support.fixtures` (registered by
tests/conftest.py through `pytest_plugins`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from edges_support import BASE_URL, fake_twilio_server, make_settings, new_tenant
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from nmc.demo.twilio_standin import LocalTwilio
from nmc.infra.settings import Settings
from producers.edges.app import create_edge_app
from producers.edges.settings import EdgeSettings
from producers.tenants import Tenant


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
