"""The migrated schema and the SQLAlchemy tables the code queries through say the same thing.

Every table is created by raw SQL in an Alembic migration (nmc/infra/migrations) and described
again by a `Table` the code builds its statements from; the migrations run with
`target_metadata=None`, so nothing else would notice the two drifting apart. Alembic's
`compare_metadata` (what autogenerate uses) compares a freshly migrated database with the
metadata:

* columns must agree both ways: names, types and nullability;
* what the metadata declares of indexes, unique constraints and foreign keys must exist as
  declared; the migrations may hold more (indexes and keys the code never names — the
  metadata is the query side's description, the migration the DDL);
* a table without metadata is one the code reaches by raw SQL only, named below with its
  user, so a new table is a decision rather than an accident.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData

from nmc.infra import dead_letters
from nmc_streams import db as read_models
from producers import tables as edge_tables
from producers.conversation.reactions.apply import conversation_reactions
from producers.outbox import table as outbox_table
from producers.tenants import table as tenant_tables

METADATA = (
    outbox_table.metadata,
    edge_tables.metadata,
    tenant_tables.metadata,
    conversation_reactions.metadata,
    dead_letters.metadata,
    read_models.metadata,
)

# Tables the code reaches through raw SQL only (no `Table`), and who does.
SQL_ONLY = {
    "alembic_version_read_models": "Alembic: the read-model tree's version table",
    "dead_letter_replays": "nmc/dlq/store.py",
    "read_versions": "stream-apps/nmc_streams/api/freshness.py (rows kept by rm0005's triggers)",
    "sender_turns": "producers/sender/sender.py",
    "stream_rebuilds": "stream-apps/nmc_streams/rebuild.py",
}

# Columns the migrations add that no `Table` declares: generated, read by raw SQL only.
SQL_ONLY_COLUMNS = {
    ("conv_conversations", "item_json"): "stream-apps/nmc_streams/api/body_queries.py (rm0006)",
    ("conv_messages", "item_json"): "stream-apps/nmc_streams/api/body_queries.py (rm0006)",
}

# Differences that mean the metadata and the migrated schema disagree. `remove_*` of an
# index, constraint or key only says the migration has one the metadata does not name.
COLUMN_DRIFT = {"modify_type", "modify_nullable", "add_column", "remove_column", "add_table"}
DECLARED_BUT_MISSING = {"add_index", "add_constraint", "add_fk"}


def combined() -> MetaData:
    everything = MetaData()
    for metadata in METADATA:
        for table in metadata.tables.values():
            assert table.name not in everything.tables, f"{table.name} is defined twice"
            table.to_metadata(everything)
    return everything


def describe(diff: Any) -> str:
    kind = diff[0]
    if kind in ("modify_type", "modify_nullable"):
        _, _, table, column, _, in_database, in_metadata = diff
        return f"{kind} {table}.{column}: migrated {in_database!r}, metadata {in_metadata!r}"
    return f"{kind} {diff[1:]!r}"


def differences(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(context, combined())
    # Column changes come grouped in lists, one per column.
    return [d for group in diffs for d in (group if isinstance(group, list) else [group])]


def _sql_only_column(diff: Any) -> bool:
    """A `remove_column` (migrated, not declared) of a column listed in SQL_ONLY_COLUMNS."""
    return bool(diff[0] == "remove_column" and (diff[2], diff[3].name) in SQL_ONLY_COLUMNS)


def test_the_metadata_matches_the_migrated_columns_and_declared_keys(engine: Engine) -> None:
    drift = [describe(d) for d in differences(engine)
             if d[0] in COLUMN_DRIFT | DECLARED_BUT_MISSING and not _sql_only_column(d)]
    assert drift == [], "fix the Table (or add a migration):\n" + "\n".join(drift)


def test_every_migrated_table_has_metadata_or_is_known_to_be_raw_sql(engine: Engine) -> None:
    unlisted = sorted(
        d[1].name for d in differences(engine) if d[0] == "remove_table"
    )
    assert unlisted == sorted(SQL_ONLY), "describe the new table as a Table, or in SQL_ONLY"
