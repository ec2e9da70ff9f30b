"""The dead-letter store every consumer of the platform writes (the reactor and the stream apps).

The record itself goes to `nmc.dlq.<group>` (naming and headers: `nmc.contract.dead_letter`);
the row kept here beside it lets operators query dead letters with SQL (`nmc status`). The
port is `DeadLetterStore`; `PostgresDeadLetters` (table `stream_dead_letters`, created by the
read-model migrations) and `InMemoryDeadLetters` pass one contract suite
(tests/support/contracts.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

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
    select,
)
from sqlalchemy.dialects.postgresql import JSONB, insert

metadata = MetaData()

stream_dead_letters = Table(
    "stream_dead_letters",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("group_id", Text, nullable=False),
    Column("app", Text, nullable=False),
    Column("topic", Text, nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("record_key", Text),
    Column("event_id", Text),
    Column("event_name", Text),
    Column("tenant_id", Text),
    Column("event", JSONB),
    Column("raw_value", LargeBinary),
    Column("headers", JSONB, nullable=False),
    Column("error", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


DEDUPE = ("group_id", "topic", "partition", "offset")


class DeadLetterStore(Protocol):
    """Keeps one row per dead-lettered record (`stream_dead_letters` columns)."""

    def record(self, row: Mapping[str, Any]) -> None:
        """Keep `row` once per (group, topic, partition, offset), even on redelivery."""

    def rows(self, group_id: str) -> list[dict[str, Any]]:
        """The rows of one consumer group, in the order they were first recorded."""


class PostgresDeadLetters:
    """`DeadLetterStore` on the platform database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, row: Mapping[str, Any]) -> None:
        values = dict(row)
        values["headers"] = json.loads(json.dumps(values.get("headers") or {}))
        stmt = insert(stream_dead_letters).values(values)
        with self.engine.begin() as conn:
            conn.execute(stmt.on_conflict_do_nothing(index_elements=list(DEDUPE)))

    def rows(self, group_id: str) -> list[dict[str, Any]]:
        t = stream_dead_letters
        with self.engine.connect() as conn:
            result = conn.execute(select(t).where(t.c.group_id == group_id).order_by(t.c.id))
            return [{k: v for k, v in r._mapping.items() if k not in ("id", "created_at")}
                    for r in result]


class InMemoryDeadLetters:
    """`DeadLetterStore` in memory (unit tests)."""

    def __init__(self) -> None:
        self._rows: dict[tuple[Any, ...], dict[str, Any]] = {}

    def record(self, row: Mapping[str, Any]) -> None:
        values = dict(row)
        values["headers"] = json.loads(json.dumps(values.get("headers") or {}))
        self._rows.setdefault(tuple(values.get(c) for c in DEDUPE), values)

    def rows(self, group_id: str) -> list[dict[str, Any]]:
        columns = [c.name for c in stream_dead_letters.columns
                   if c.name not in ("id", "created_at")]
        return [{c: r.get(c) for c in columns} for r in self._rows.values()
                if r.get("group_id") == group_id]


def record_dead_letter(engine: Engine, row: Mapping[str, Any]) -> None:
    """Record a dead letter once per (group, topic, partition, offset), even on redelivery."""
    PostgresDeadLetters(engine).record(row)
