"""Health probes: each answers "is this service usable right now?" without side effects."""

from __future__ import annotations

import httpx
import psycopg
from confluent_kafka.admin import AdminClient

from nmc.stack.render import libpq_url


def kafka_ok(bootstrap: str, timeout_s: float = 5.0) -> bool:
    """The broker answers a metadata request (what every client does first)."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    try:
        admin.list_topics(timeout=timeout_s)
    except Exception:
        return False
    return True


def registry_ok(url: str, timeout_s: float = 5.0) -> bool:
    """`GET /subjects` answers 200 (the ccompat API is up, storage included)."""
    try:
        return httpx.get(f"{url}/subjects", timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


def postgres_ok(sqlalchemy_url: str, timeout_s: float = 5.0) -> bool:
    """A login with the application's own URL succeeds."""
    try:
        with psycopg.connect(libpq_url(sqlalchemy_url), connect_timeout=max(1, int(timeout_s))):
            return True
    except psycopg.Error:
        return False
