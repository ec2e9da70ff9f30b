"""Make a running stack ready for the platform: migrations, topics, schemas.

Used by `nmc stack up`, `nmc demo` and the test fixtures. Registration here is a local-stack
convenience; against a production registry registration is the explicit `nmc schemas register`.
"""

from __future__ import annotations

from rich.console import Console

from nmc.contract.schemas import SCHEMA_DIR
from nmc.infra.connection import url_with_userinfo
from nmc.infra.db import upgrade
from nmc.infra.kafka_clients import ensure_topics
from nmc.infra.settings import ServiceSettings
from nmc.schema_gate.check import run_check
from nmc.schema_gate.register import register_checked


class SchemaGateError(RuntimeError):
    """schemas-avro/ does not pass the compatibility gate."""


def prepare(
    settings: ServiceSettings,
    console: Console | None = None,
    register: bool = True,
) -> None:
    console = console or Console(stderr=True)
    upgrade(settings.database)
    console.print("[green]✓[/] database migrated")
    created = ensure_topics(settings)
    console.print(
        f"[green]✓[/] topics ready ({settings.nmc_topic_partitions} partitions each)"
        + (f", created {', '.join(created)}" if created else "")
    )
    if register:
        # Through the gate: what it refuses is never registered, even locally.
        # The gate's client takes a URL only: registry credentials travel as its userinfo.
        registry = url_with_userinfo(settings.registry, settings.connection)
        report = run_check(SCHEMA_DIR, registry, use_git=False)
        if not report.ok:
            raise SchemaGateError(
                "the schema gate refuses schemas-avro/; run `nmc schemas check` for the reasons"
            )
        done = register_checked(report, registry, settings.nmc_compatibility_level)
        new = sum(r.created for r in done)
        console.print(f"[green]✓[/] {len(done)} schemas registered ({new} new)")
