"""Operator actions on parked rows: list them, retry them, or skip them for good.

A parked row blocks the later events of its key (per-key order beats liveness) until an
operator decides; both decisions are explicit and logged in the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, text


@dataclass(frozen=True)
class ParkedRow:
    id: int
    event_id: str
    event_name: str
    record_key: str
    attempts: int
    last_error: str | None
    created_at: datetime
    blocked_behind: int


def list_parked(engine: Engine) -> list[ParkedRow]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                """SELECT p.id, p.event_id::text, p.event_name, p.record_key, p.attempts,
                          p.last_error, p.created_at,
                          (SELECT count(*) FROM outbox_events o
                           WHERE o.record_key = p.record_key AND o.id > p.id
                             AND o.state = 'pending') AS blocked_behind
                   FROM outbox_events p WHERE p.state = 'parked' ORDER BY p.id"""
            )
        ).all()
    return [ParkedRow(*r) for r in rows]


def _move(engine: Engine, ids: list[int] | None, to_state: str, note: str) -> list[int]:
    where = "state = 'parked'" + ("" if ids is None else " AND id = ANY(:ids)")
    with engine.begin() as conn:
        moved = (
            conn.execute(
                text(
                    f"UPDATE outbox_events SET state = :state, retry_at = NULL, "
                    f"last_error = coalesce(last_error, '') || :note, "
                    f"published_at = CASE WHEN :state = 'skipped' THEN clock_timestamp() END "
                    f"WHERE {where} RETURNING id"
                ),
                {"state": to_state, "note": note, "ids": ids},
            )
            .scalars()
            .all()
        )
        if to_state == "pending" and moved:
            conn.execute(text("SELECT pg_notify('nmc_outbox', '')"))
    return sorted(moved)


def retry(engine: Engine, ids: list[int] | None) -> list[int]:
    """Put parked rows back to pending (all of them when `ids` is None)."""
    return _move(engine, ids, "pending", " [retried by operator]")


def skip(engine: Engine, ids: list[int]) -> list[int]:
    """Give up on parked rows: they are never published and stop blocking their key."""
    return _move(engine, ids, "skipped", " [skipped by operator]")
