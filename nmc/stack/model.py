"""Small value types shared by the stack's modules and its CLI."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from nmc.stack.pidfile import PidRecord
from nmc.stack.settings import StackSettings

State = Literal["running", "stopped", "external"]
ServiceName = Literal["postgres", "kafka", "registry", "prometheus", "postgres-exporter"]
SERVICES: tuple[ServiceName, ...] = ("postgres", "kafka", "registry")
"""The core services; Prometheus and the PostgreSQL exporter are optional (`nmc stack up
--observability`)."""
OBSERVABILITY: tuple[ServiceName, ...] = ("prometheus", "postgres-exporter")

Say = Callable[[str], None]


@dataclass(frozen=True)
class ServiceStatus:
    """One row of `nmc stack status`."""

    name: str
    state: State
    address: str
    pid: int | None = None
    log: Path | None = None
    detail: str = ""


@dataclass
class Starting:
    """A service process we launched (or found) and now wait on until it is healthy."""

    name: ServiceName
    record: PidRecord
    healthy: Callable[[], bool]
    logs: tuple[Path, ...]
    popen: subprocess.Popen[bytes] | None = None
    after: list[Callable[[], None]] = field(default_factory=list)


def local_services(settings: StackSettings) -> dict[ServiceName, bool]:
    """Which services the local stack owns (True) versus external ones it only checks (False)."""
    return {
        "postgres": settings.uses_local_database,
        "kafka": settings.uses_local_kafka,
        "registry": settings.uses_local_registry,
    }


def address_of(settings: StackSettings, name: ServiceName) -> str:
    """What clients connect to, with any password masked."""
    if name == "kafka":
        return settings.kafka
    if name == "registry":
        return settings.registry
    return mask_password(settings.database)


def mask_password(url: str) -> str:
    """`scheme://user:secret@host` -> `scheme://user:***@host` (status output is shared)."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in creds:
        return url
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


def registry_uses_sql(settings: StackSettings) -> bool:
    """Apicurio persists into our PostgreSQL only when that PostgreSQL is ours."""
    return settings.uses_local_registry and settings.uses_local_database
