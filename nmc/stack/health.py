"""Health probes: each answers "is this service usable right now?" without side effects."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
from confluent_kafka.admin import AdminClient

from nmc.stack.render import libpq_url


def kafka_ok(config: dict[str, Any], timeout_s: float = 5.0) -> bool:
    """The broker answers a metadata request (what every client does first).

    `config` is a librdkafka client configuration (`nmc.infra.kafka_clients.admin_config`), so
    a secured cluster is probed with the same credentials the platform uses.
    """
    admin = AdminClient({**config, "log_level": 0})
    try:
        admin.list_topics(timeout=timeout_s)
    except Exception:
        return False
    return True


def registry_ok(
    url: str, timeout_s: float = 5.0, auth: tuple[str, str] | None = None
) -> bool:
    """`GET /subjects` answers 200 (the ccompat API is up, storage included)."""
    try:
        return httpx.get(f"{url}/subjects", timeout=timeout_s, auth=auth).status_code == 200
    except httpx.HTTPError:
        return False


def postgres_ok(sqlalchemy_url: str, timeout_s: float = 5.0) -> bool:
    """A login with the application's own URL succeeds."""
    try:
        with psycopg.connect(libpq_url(sqlalchemy_url), connect_timeout=max(1, int(timeout_s))):
            return True
    except psycopg.Error:
        return False
