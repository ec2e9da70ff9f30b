"""What a read-model table is: one shared `MetaData`, the column helpers, and the upsert rule
each table declares, so that the writer (`db.upsert`) and the in-memory store take the rule from
the table itself instead of from lists kept beside it.

Each app declares its own tables in its `app.py` (`nmc_streams.<app>.app`); the migration that
creates them is in nmc/infra/migrations/read_models, and
`tests/integration/test_schema_metadata.py` fails when the two disagree.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Text, Uuid
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

UpsertRule = Literal["versioned", "last_writer_wins", "insert_only"]
"""How a row replaces the stored row of the same key:

* ``versioned`` — a row of one flow carries `version` (the entity size it was derived from)
  and replaces one with an equal or smaller version, so a stale worker that lost its
  partition cannot overwrite a newer projection;
* ``last_writer_wins`` — a cross-flow row (a campaign, a tenant's subscription) carries
  (`changed_at`, `event_id`) and the greater pair wins;
* ``insert_only`` — the first row stays (an immutable fact, such as a catalog change)."""


def uuid_column(name: str, pk: bool = False, nullable: bool = False) -> Column[Any]:
    return Column(name, Uuid(as_uuid=False), primary_key=pk, nullable=nullable and not pk)


def ts_column(name: str, nullable: bool = True) -> Column[Any]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


def read_model(name: str, *columns: Column[Any], upsert: UpsertRule) -> Table:
    """A read-model table in the shared metadata, with the rule its upserts follow."""
    required = {"versioned": {"version"}, "last_writer_wins": {"changed_at", "event_id"},
                "insert_only": set()}[upsert]
    missing = required - {c.name for c in columns}
    if missing:
        raise ValueError(f"{name}: a {upsert} read model needs the columns {sorted(missing)}")
    return Table(name, metadata, *columns, info={"upsert": upsert})


def upsert_rule(table: Table) -> UpsertRule:
    rule: UpsertRule = table.info["upsert"]
    return rule


stream_state = Table(
    "stream_state",
    metadata,
    Column("app", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("entity", Text, primary_key=True),
    Column("state", JSONB, nullable=False),
    Column("version", Integer, nullable=False),
    ts_column("updated_at", nullable=False),
)
"""Every app's entity states (`nmc_streams.state`), written in the read models' transaction."""
