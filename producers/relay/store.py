"""The relay's view of the outbox, over one psycopg connection.

The same connection holds the lane leases (session advisory locks), so if the relay dies —
even by SIGKILL — PostgreSQL drops its connection and its leases with it, and another relay
takes the lanes over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from producers.outbox.table import NOTIFY_CHANNEL
from producers.relay.outcome import RowResult

# Advisory lock classes (first int4 of the two-key form): "nmc" + 1 / + 2.
MEMBER_LOCK_CLASS = 0x6E6D6301
LANE_LOCK_CLASS = 0x6E6D6302


@dataclass(frozen=True)
class OutboxRow:
    id: int
    event_id: UUID
    event_name: str
    schema_version: str
    tenant_id: UUID
    correlation_id: UUID
    causation_id: UUID | None
    occurred_at: datetime
    payload: dict[str, Any]
    topic: str
    record_key: str
    attempts: int
    created_at: datetime


_FETCH = """
SELECT o.id, o.event_id, o.event_name, o.schema_version, o.tenant_id, o.correlation_id,
       o.causation_id, o.occurred_at, o.payload, o.topic, o.record_key, o.attempts, o.created_at
FROM outbox_events o
WHERE o.state = 'pending' AND o.lane = ANY(%(lanes)s)
  AND NOT EXISTS (
      SELECT 1 FROM outbox_events p
      WHERE p.state = 'parked' AND p.record_key = o.record_key AND p.id < o.id)
ORDER BY o.id
LIMIT %(limit)s
"""


class OutboxStore:
    """PostgreSQL adapter of the relay (autocommit: each statement is its own transaction)."""

    def __init__(self, dsn: str) -> None:
        self._conn = psycopg.connect(dsn, autocommit=True, row_factory=dict_row)
        self.lanes: set[int] = set()

    def close(self) -> None:
        self._conn.close()

    # --- membership and leases ------------------------------------------------------------
    def join(self) -> None:
        """Announce this relay (a shared lock other relays count) and listen for wake-ups."""
        self._conn.execute("SELECT pg_advisory_lock_shared(%s, 0)", (MEMBER_LOCK_CLASS,))
        self._conn.execute(f"LISTEN {NOTIFY_CHANNEL}")

    def live_relays(self) -> int:
        row = self._conn.execute(
            """SELECT count(*) AS n FROM pg_locks
               WHERE locktype = 'advisory' AND classid = %s::oid AND objid = 0
                 AND objsubid = 2 AND granted
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())""",
            (MEMBER_LOCK_CLASS,),
        ).fetchone()
        assert row is not None
        return int(row["n"])

    def try_lease(self, candidates: Sequence[int], limit: int) -> list[int]:
        """Lease up to `limit` free lanes among `candidates` (in that order)."""
        got: list[int] = []
        for lane in candidates:
            if len(got) >= limit:
                break
            if lane in self.lanes:
                continue
            row = self._conn.execute(
                "SELECT pg_try_advisory_lock(%s, %s) AS ok", (LANE_LOCK_CLASS, lane)
            ).fetchone()
            if row is not None and row["ok"]:
                got.append(lane)
                self.lanes.add(lane)
        return got

    def release(self, lanes: Sequence[int]) -> None:
        for lane in lanes:
            self._conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LANE_LOCK_CLASS, lane))
            self.lanes.discard(lane)

    # --- rows -------------------------------------------------------------------------------
    def fetch_pending(self, limit: int) -> list[OutboxRow]:
        if not self.lanes:
            return []
        rows = self._conn.execute(_FETCH, {"lanes": sorted(self.lanes), "limit": limit}).fetchall()
        return [OutboxRow(**r) for r in rows]

    def mark_published(self, results: Sequence[RowResult]) -> None:
        if not results:
            return
        with self._conn.cursor() as cur:
            cur.execute(
                """UPDATE outbox_events o
                   SET state = 'published', published_at = clock_timestamp(),
                       attempts = o.attempts + 1, last_error = NULL,
                       kafka_partition = r.partition, kafka_offset = r.kafka_offset
                   FROM unnest(%s::bigint[], %s::int[], %s::bigint[])
                        AS r(id, partition, kafka_offset)
                   WHERE o.id = r.id AND o.state = 'pending'""",
                (
                    [r.row_id for r in results],
                    [r.partition for r in results],
                    [r.offset for r in results],
                ),
            )

    def park(self, results: Sequence[RowResult]) -> None:
        for r in results:
            self._conn.execute(
                """UPDATE outbox_events SET state = 'parked', attempts = attempts + 1,
                   last_error = %s WHERE id = %s AND state = 'pending'""",
                (r.error, r.row_id),
            )

    def note_failures(self, results: Sequence[RowResult]) -> None:
        failed = [r for r in results if r.error]
        for r in failed:
            self._conn.execute(
                "UPDATE outbox_events SET attempts = attempts + 1, last_error = %s WHERE id = %s",
                (r.error, r.row_id),
            )

    def delete_published_before(self, seconds: float, limit: int = 10_000) -> int:
        """Retention: drop published/skipped rows older than `seconds`, a bounded chunk a call."""
        cur = self._conn.execute(
            """DELETE FROM outbox_events WHERE id IN (
                   SELECT id FROM outbox_events
                   WHERE state IN ('published', 'skipped')
                     AND published_at < clock_timestamp() - make_interval(secs => %s)
                   LIMIT %s)""",
            (seconds, limit),
        )
        return cur.rowcount

    def backlog(self) -> tuple[int, float, int]:
        """(pending rows, age in seconds of the oldest pending row, parked rows)."""
        row = self._conn.execute(
            """SELECT count(*) FILTER (WHERE state = 'pending') AS pending,
                      coalesce(extract(epoch FROM clock_timestamp()
                               - min(created_at) FILTER (WHERE state = 'pending')), 0) AS age,
                      count(*) FILTER (WHERE state = 'parked') AS parked
               FROM outbox_events WHERE state IN ('pending', 'parked')"""
        ).fetchone()
        assert row is not None
        return int(row["pending"]), float(row["age"]), int(row["parked"])

    # --- wake-ups ---------------------------------------------------------------------------
    def wait_for_notify(self, timeout: float) -> bool:
        """Block until a NOTIFY arrives or `timeout` passes (NOTIFY is only a hint)."""
        return any(True for _ in self._conn.notifies(timeout=timeout, stop_after=1))

