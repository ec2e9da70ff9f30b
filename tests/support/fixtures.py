"""Harness fixtures: the real stack, started (or reused) once per session, and a fresh
migrated database per test. Registered for every suite by tests/conftest.py (`pytest_plugins`).

With KAFKA_BOOTSTRAP_SERVERS / SCHEMA_REGISTRY_URL / DATABASE_URL set, those services are used
and nothing is started.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from rich.console import Console
from sqlalchemy import Engine

from nmc.bootstrap import prepare
from nmc.infra.db import make_engine
from nmc.infra.settings import PROJECT_ROOT
from nmc.stack import ensure_up
from support import waits
from support.databases import scratch_database
from support.settings import PlatformSettings as Settings


def _docker_compose_stack(request: pytest.FixtureRequest) -> Settings:
    """With a Docker engine and NMC_TESTCONTAINERS=1: docker-compose.kafka.yml via testcontainers.

    The compose file mirrors the local stack's ports, so the settings are the same URLs made
    explicit (external: nothing is started by `ensure_up`)."""
    from testcontainers.compose import DockerCompose

    compose = DockerCompose(str(PROJECT_ROOT), compose_file_name="docker-compose.kafka.yml",
                            wait=True)
    compose.start()
    request.addfinalizer(compose.stop)
    base = Settings()
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
        settings = Settings()
    # pytest-xdist workers each run this: one at a time starts, migrates and registers
    lock_path = Path(settings.nmc_home) / "run" / "test-session.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ensure_up(settings, console)
        prepare(settings, console)
    return settings


@pytest.fixture(scope="session", autouse=True)
def _remove_stream_runs(request: pytest.FixtureRequest) -> Iterator[None]:
    """At the end of the session: the consumer groups and DLQ topics of every stream worker
    the tests started, so a long-lived stack does not collect them."""
    yield
    from nmc.demo.cleanup import remove_run
    from support.streams import STARTED_PREFIXES

    if STARTED_PREFIXES:
        settings = Settings()
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
    """`support.waits.wait_until` as a fixture: poll until true or fail saying what was seen."""
    return waits.wait_until
