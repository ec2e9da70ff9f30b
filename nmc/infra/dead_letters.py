"""The dead-letter table every consumer of the platform writes (the reactor and the stream apps).

The record itself goes to `nmc.dlq.<group>` (naming and headers: `nmc.contract.dead_letter`);
this row beside it lets operators query dead letters with SQL (`nmc status`). The table is
created by the read-model migrations.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB, insert

metadata = MetaData()

stream_dead_letters = Table(
    "stream_dead_letters",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("group_id", Text),
    Column("app", Text),
    Column("topic", Text),
    Column("partition", Integer),
    Column("offset", BigInteger),
    Column("record_key", Text),
    Column("event_id", Text),
    Column("event_name", Text),
    Column("tenant_id", Text),
    Column("event", JSONB),
    Column("raw_value", LargeBinary),
    Column("headers", JSONB),
    Column("error", Text),
    Column("attempts", Integer),
    Column("created_at", DateTime(timezone=True)),
)


def record_dead_letter(engine: Engine, row: Mapping[str, Any]) -> None:
    """Record a dead letter once per (group, topic, partition, offset), even on redelivery."""
    values = dict(row)
    values["headers"] = json.loads(json.dumps(values.get("headers") or {}))
    stmt = insert(stream_dead_letters).values(values)
    with engine.begin() as conn:
        conn.execute(
            stmt.on_conflict_do_nothing(index_elements=["group_id", "topic", "partition", "offset"])
        )
