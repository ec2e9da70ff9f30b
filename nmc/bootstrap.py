"""Make a running stack ready for the platform: migrations, topics, schemas.

Used by `nmc stack up`, `nmc demo` and the test fixtures. Registration here is a local-stack
convenience; against a production registry registration is the explicit `nmc schemas register`.
"""

from __future__ import annotations

from rich.console import Console

from nmc.contract.schemas import default_catalog
from nmc.kafka import ensure_topics
from nmc.registry import register_all
from nmc.settings import Settings
from producers.db import upgrade


def prepare(settings: Settings, console: Console | None = None, register: bool = True) -> None:
    console = console or Console(stderr=True)
    upgrade(settings.database)
    console.print("[green]✓[/] database migrated")
    created = ensure_topics(settings)
    console.print(
        f"[green]✓[/] topics ready ({settings.nmc_topic_partitions} partitions each)"
        + (f", created {', '.join(created)}" if created else "")
    )
    if register:
        done = register_all(settings, default_catalog(), settings.nmc_compatibility_level)
        new = sum(r.created for r in done)
        console.print(f"[green]✓[/] {len(done)} schemas registered ({new} new)")
