"""`nmc topics`: the topics on the cluster, their partitions, replication and key config."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from nmc.infra.kafka_clients import admin_config, domain_topics
from nmc.infra.settings import get_settings
from nmc.infra.topics import SHOWN_CONFIG, describe_topics, layout_problem


def topics_command(
    prefix: Annotated[str, typer.Option("--prefix", help="Only topics starting so.")] = "nmc.",
) -> None:
    """Show topics, partitions, replication (and under-replicated partitions) and config;
    exit 1 when the domain topics break the partition-count contract."""
    settings = get_settings()
    console = Console()
    described = describe_topics({**admin_config(settings), "log_level": 0})
    rows = [r for r in described if r.name.startswith(prefix)]
    table = Table(title=f"topics on {settings.kafka}")
    for column in ("topic", "partitions", "replication", "under-replicated", *SHOWN_CONFIG):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row.name, str(row.partitions), str(row.replication),
                      str(row.under_replicated), *(row.config.get(k, "") for k in SHOWN_CONFIG))
    console.print(table)
    domain = set(domain_topics())
    problem = layout_problem(
        {r.name: r.partitions for r in rows if r.name in domain}, settings.nmc_topic_partitions
    )
    if problem:
        Console(stderr=True).print(f"[red]error:[/] {problem}", soft_wrap=True)
        raise typer.Exit(code=1)
