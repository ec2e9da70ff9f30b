"""The writer configuration of a bare `OutboxWriter()`: the process's settings, and one
stored-value encoder for every such writer of the process (one registry lookup per subject).

Only for call sites without a composition root of their own to hand one in (the domain
commands' `emit`, module-level writers, tests, benches). A composition root builds its writer
with `OutboxWriter.from_settings(settings)` or `OutboxWriter(config=..., values=...)`.
"""

from __future__ import annotations

from functools import cache

from nmc.infra.schema_registry import registry_client
from nmc.infra.settings import ServiceSettings
from producers.outbox.config import OutboxConfig, stored_values
from producers.outbox.settings import OutboxSettings
from producers.outbox.values import StoredValues


def default_config() -> OutboxConfig:
    """The process's settings, read when a bare writer first writes (not at import)."""
    return OutboxConfig.from_settings(OutboxSettings())


@cache
def default_values() -> StoredValues | None:
    """The process's shared encoder, built at first use (None when stored values are off)."""
    services = ServiceSettings()
    return stored_values(OutboxConfig.from_settings(OutboxSettings()),
                         lambda: registry_client(services))
