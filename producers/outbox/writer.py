"""Append validated events to the outbox inside the caller's transaction.

The writer commits nothing: the event becomes visible exactly when the business rows do.
Before inserting it takes a transaction-scoped advisory lock on the record key, so two
transactions writing the same conversation serialize and, per key, id order equals commit
order — the relay can then publish a key's visible rows by id without reordering it.

Lock order. A transaction that also locks rows of a conversation (its thread, its reaction
memory) calls `lock` for the conversation's key *before* locking those rows; `append` then
re-takes the same lock (advisory locks are re-entrant within a transaction), so the key lock
is never requested while such a row lock is held and the two cannot form a cycle.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from nmc.contract.keys import record_key
from producers.envelope import Envelope
from producers.outbox.table import outbox_events

_KEY_LOCKS = text(
    "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(CAST(:keys AS text[])) AS k"
)


def _row(event: Envelope) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "event_name": event.event_name,
        "schema_version": event.schema_version,
        "tenant_id": event.tenant_id,
        "correlation_id": event.correlation_id,
        "causation_id": event.causation_id,
        "occurred_at": event.occurred_at,
        "payload": event.payload,
        "topic": event.topic,
        "record_key": event.key,
    }


class OutboxWriter:
    """Writes events through the caller's SQLAlchemy session or connection."""

    def lock(self, db: Session | Connection, *keys: str) -> None:
        """Take the transaction-scoped advisory lock(s) `append` takes for these record keys
        (sorted, so two callers cannot deadlock on them); held until commit or rollback.

        Call it first in a transaction that locks a conversation's rows and then appends
        to that conversation: key lock, then rows (producers/edges/README.md, lock order)."""
        if keys:
            db.execute(_KEY_LOCKS, {"keys": sorted(set(keys))})

    def lock_conversation(self, db: Session | Connection, tenant_id: UUID,
                          correlation_id: UUID) -> None:
        """`lock` for the record key `tenant_id:correlation_id`."""
        self.lock(db, record_key(tenant_id, correlation_id))

    def append(self, db: Session | Connection, event: Envelope) -> bool:
        """Stage one event; returns False when its `event_id` is already in the outbox."""
        return self.append_all(db, [event]) == 1

    def append_all(self, db: Session | Connection, events: Iterable[Envelope]) -> int:
        """Stage several events, in their given order, in one statement; returns how many
        were new (an `event_id` already in the outbox is skipped, not an error).

        Key locks are taken in sorted key order first so that two transactions touching the
        same keys cannot deadlock on them.
        """
        batch = list(events)
        if not batch:
            return 0
        self.lock(db, *{e.key for e in batch})
        stmt = (
            insert(outbox_events)
            .values([_row(e) for e in batch])
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(outbox_events.c.id)
        )
        return len(db.execute(stmt).all())
