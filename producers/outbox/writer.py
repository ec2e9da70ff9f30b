"""Append validated events to the outbox inside the caller's transaction.

The writer commits nothing: the event becomes visible exactly when the business rows do.
Before inserting it takes a transaction-scoped advisory lock on the record key, so two
transactions writing the same conversation serialize and, per key, id order equals commit
order — the relay can then publish a key's visible rows by id without reordering it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

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
        db.execute(_KEY_LOCKS, {"keys": sorted({e.key for e in batch})})
        stmt = (
            insert(outbox_events)
            .values([_row(e) for e in batch])
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(outbox_events.c.id)
        )
        return len(db.execute(stmt).all())
