"""A second local Kafka for the cluster tests: secured and/or several nodes, on its own ports.

It lives in its own stack home (`.nmc-test/<name>`, sharing the main stack's download cache),
listens on the main stack's Kafka ports + 2 onwards, and uses the main stack's PostgreSQL (and,
unless asked for its own, registry) as external services; what it started is stopped afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import SecretStr
from rich.console import Console
from support.settings import PlatformSettings as Settings

from nmc.infra.settings import PROJECT_ROOT
from nmc.stack import down, ensure_up
from nmc.stack.layout import Layout
from nmc.stack.shape import client_settings, shaped


@contextmanager
def extra_kafka(base: Settings, name: str, *, secure: bool = False,
                brokers: int = 1, registry: bool = False,
                oauth_jwks_url: str | None = None) -> Iterator[Settings]:
    """Start the extra Kafka (and with `registry` an own registry on the main port + 3, in-memory
    storage: + 2 is Kafka Connect's default REST port 8083, which the CDC tests may hold); yield
    the settings a platform process uses against them."""
    home = PROJECT_ROOT / ".nmc-test" / name
    home.mkdir(parents=True, exist_ok=True)
    cache = home / "cache"
    if not cache.exists():
        cache.symlink_to(Layout.of(base).cache)
    settings = shaped(
        base.model_copy(update={
            "nmc_home": home,
            "nmc_kafka_port": base.nmc_kafka_port + 2,
            "nmc_kafka_controller_port": base.nmc_kafka_controller_port + 2,
            # past the main stack's metrics ports (one per node, at most 5) and Connect's
            "nmc_kafka_metrics_port":
                base.nmc_kafka_metrics_port + 10 if base.nmc_kafka_metrics_port else 0,
            "schema_registry_url": None if registry else base.registry,
            "nmc_registry_port": base.nmc_registry_port + 3,
            "database_url": SecretStr(base.database),
            "kafka_bootstrap_servers": None,
            "nmc_stack_oauth_jwks_url": oauth_jwks_url,
        }),
        secure=secure, brokers=brokers,
    )
    console = Console(stderr=True)
    try:
        ensure_up(settings, console)
        clients, _ = client_settings(settings)
        yield clients
    finally:
        # a throw-away cluster: the brokers' controlled shutdown (leaders moved one node at a
        # time, ~40 s for three) buys nothing here
        down(settings, console, stop_timeout_s=0)
