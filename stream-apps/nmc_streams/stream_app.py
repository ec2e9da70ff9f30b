"""`StreamApp`: everything that distinguishes one stream app, in one value.

Each app (`nmc_streams.<app>.app`) declares one: the domain topics it reads, the events it
handles, its read-model tables and its `FlowModel` (how facts become entities and rows).
Everything else — the worker (`runtime`), the rebuild, the CLI commands, the test harness —
derives from the registry of these values (`nmc_streams.apps`), so an app is defined once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table

from nmc_streams.flows import FlowModel


@dataclass(frozen=True)
class StreamApp:
    """One stream app's definition (pure data; nothing connects)."""

    name: str
    """The app's name: `nmc worker <name>`, its consumer group `<prefix>-<name>`, its rows of
    `stream_state`."""
    summary: str
    """One line for `nmc worker <name> --help`."""
    domains: tuple[str, ...]
    """The domain topics it reads (`nmc.<domain>`)."""
    model: FlowModel
    """How its facts become entity states and read-model rows (`model.events`: the events it
    handles; any other event on its topics is acknowledged and ignored)."""
    tables: tuple[Table, ...]
    """The read models it owns (built, rebuilt and swapped as a set by `nmc worker rebuild`)."""

    @property
    def events(self) -> frozenset[str]:
        return self.model.events

    @property
    def table_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tables)
