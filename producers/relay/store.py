"""The relay's view of the outbox, over one psycopg connection.

The same connection holds the lane leases (session advisory locks), so if the relay dies —
even by SIGKILL — PostgreSQL drops its connection and its leases with it, and another relay
takes the lanes over. When the session is lost (server restart, failover,
``pg_terminate_backend``, a proxy reset) every call raises `StoreUnavailable` and the store
forgets its leases: the relay reconnects, joins again and leases lanes from scratch.

The row and the errors belong to the port (ports.py); they are re-exported here for the
modules that import them from the store.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
from psycopg.types.json import set_json_loads

from producers.outbox.table import NOTIFY_CHANNEL
from producers.relay.outcome import BatchOutcome
from producers.relay.outcome import settle_rows as settle_rows
from producers.relay.ports import LeaseLost as LeaseLost
from producers.relay.ports import OutboxRow as OutboxRow
from producers.relay.ports import StoreUnavailable as StoreUnavailable

# Advisory lock classes (first int4 of the two-key form): "nmc" + 1 / + 2.
MEMBER_LOCK_CLASS = 0x6E6D6301
LANE_LOCK_CLASS = 0x6E6D6302
# How relay sessions show in pg_stat_activity, followed by the process id (operators, tests).
APPLICATION_NAME = "nmc-relay"


_FETCH = r"""
SELECT o.id, o.event_id::text, o.event_name, o.schema_version, o.tenant_id::text,
       o.correlation_id::text, o.causation_id::text,
       -- format_rfc3339_utc's text, built by the server: the client only copies it
       regexp_replace(to_char(o.occurred_at AT TIME ZONE 'UTC',
                              'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), '\.000Z$', 'Z'),
       floor(extract(epoch FROM o.occurred_at) * 1000)::bigint,
       -- a row with its stored value needs no JSONB sent and decoded (load_payloads if it
       -- turns out to be stale)
       CASE WHEN o.avro_value IS NULL THEN o.payload END,
       o.topic, o.record_key, o.attempts,
       extract(epoch FROM o.created_at)::float8, o.lane, o.avro_value, o.traceparent
FROM outbox_events o
WHERE o.state = 'pending' AND o.lane = ANY(%(lanes)s::smallint[])
  AND o.id <> ALL(%(in_flight)s::bigint[])
  AND NOT EXISTS (
      SELECT 1 FROM outbox_events p
      WHERE p.state = 'parked' AND p.record_key = o.record_key AND p.id < o.id)
ORDER BY o.id
LIMIT %(limit)s
"""

# One statement settles a whole batch: published rows, parked rows and failed attempts. A row
# parked with a retry delay (HELD: its schema version is unknown yet) gets `retry_at`;
# `requeue_due` puts it back in line then.
_SETTLE = """
UPDATE outbox_events o
SET state = r.state,
    published_at = CASE WHEN r.state = 'published' THEN clock_timestamp() END,
    attempts = o.attempts + 1,
    last_error = r.error,
    kafka_partition = r.partition,
    kafka_offset = r.kafka_offset,
    retry_at = clock_timestamp() + make_interval(secs => r.retry_s)
FROM unnest(%s::bigint[], %s::text[], %s::int[], %s::bigint[], %s::text[], %s::float8[])
     AS r(id, state, partition, kafka_offset, error, retry_s)
WHERE o.id = r.id AND o.state = 'pending'
  AND o.id BETWEEN %s AND %s  -- an index range: the planner would hash the whole table
"""

_REQUEUE = """
UPDATE outbox_events SET state = 'pending', retry_at = NULL
WHERE state = 'parked' AND retry_at <= clock_timestamp()
RETURNING id
"""

_HELD_LANES = """
SELECT objid::int AS lane FROM pg_locks
WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND classid = %s::oid
  AND objsubid = 2 AND granted
"""


_JSON_DECODE = json.JSONDecoder().decode


def decode_json(data: str | bytes) -> Any:
    """`json.loads` without its per-call encoding sniffing (half its cost on a small payload):
    the relay's session receives UTF-8 text."""
    return _JSON_DECODE(data.decode() if isinstance(data, bytes) else data)


def int_array(values: Iterable[int | None]) -> str:
    """A PostgreSQL array literal of integers (NULL for None) — an order of magnitude cheaper
    than adapting a Python list element by element, which a 1,000-row batch feels."""
    return "{" + ",".join("NULL" if v is None else str(v) for v in values) + "}"


class OutboxStore:
    """`RelayStore` on PostgreSQL (autocommit: each statement is its own transaction).

    The connection opens lazily; `reset` drops it (and the leases) after a failure.
    """

    def __init__(self, dsn: str, connect_timeout_s: float = 5.0) -> None:
        self._dsn = dsn
        self._connect_timeout_s = connect_timeout_s
        self._conn: psycopg.Connection[Any] | None = None
        self.lanes: set[int] = set()
        self.joined = False

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.closed

    @property
    def backend_pid(self) -> int | None:
        return self._conn.info.backend_pid if self.connected and self._conn else None

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self.lanes.clear()
            self.joined = False
            try:
                self._conn = psycopg.connect(
                    self._dsn,
                    autocommit=True,
                    client_encoding="UTF8",  # what decode_json expects
                    application_name=f"{APPLICATION_NAME} {os.getpid()}",
                    connect_timeout=max(1, round(self._connect_timeout_s)),
                    # Notice a silently dead server (failover, cable) while blocked in LISTEN.
                    keepalives=1,
                    keepalives_idle=10,
                    keepalives_interval=5,
                    keepalives_count=3,
                )
            except psycopg.OperationalError as exc:
                raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc
            with self._session() as conn:
                # The fetch must walk the pending index in id order and stop at its LIMIT. With
                # statistics taken while the outbox was small (autoanalyze lags a sudden
                # backlog), the planner instead reads every pending row and sorts them: 40-250
                # ms a 1,000-row batch on a 40k backlog, growing with it. No relay query needs
                # a sort, so this session plans without one.
                conn.execute("SET enable_sort = off")
                set_json_loads(decode_json, conn)
        return self._conn

    @contextmanager
    def _session(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection; a lost session becomes `StoreUnavailable` and drops the leases."""
        conn = self._connection()
        try:
            yield conn
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            self.reset()
            raise StoreUnavailable(f"PostgreSQL session lost: {exc}".strip()) from exc

    def reset(self) -> None:
        """Forget the session and everything it held (leases, LISTEN)."""
        conn, self._conn = self._conn, None
        self.lanes.clear()
        self.joined = False
        if conn is not None:
            with suppress(psycopg.Error):
                conn.close()

    def close(self) -> None:
        self.reset()

    # --- membership and leases ------------------------------------------------------------
    def join(self) -> None:
        """Announce this relay (a shared lock other relays count) and listen for wake-ups."""
        with self._session() as conn:
            conn.execute("SELECT pg_advisory_lock_shared(%s, 0)", (MEMBER_LOCK_CLASS,))
            conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        self.joined = True

    def live_relays(self) -> int:
        with self._session() as conn:
            row = conn.execute(
                """SELECT count(*) FROM pg_locks
                   WHERE locktype = 'advisory' AND classid = %s::oid AND objid = 0
                     AND objsubid = 2 AND granted
                     AND database = (SELECT oid FROM pg_database
                                     WHERE datname = current_database())""",
                (MEMBER_LOCK_CLASS,),
            ).fetchone()
        assert row is not None
        return int(row[0])

    def try_lease(self, candidates: Sequence[int], limit: int) -> list[int]:
        """Lease up to `limit` free lanes among `candidates` (in that order)."""
        got: list[int] = []
        with self._session() as conn:
            for lane in candidates:
                if len(got) >= limit:
                    break
                if lane in self.lanes:
                    continue
                row = conn.execute(
                    "SELECT pg_try_advisory_lock(%s, %s)", (LANE_LOCK_CLASS, lane)
                ).fetchone()
                if row is not None and row[0]:
                    got.append(lane)
                    self.lanes.add(lane)
        return got

    def release(self, lanes: Sequence[int]) -> None:
        with self._session() as conn:
            for lane in lanes:
                conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LANE_LOCK_CLASS, lane))
                self.lanes.discard(lane)

    def held_lanes(self) -> set[int]:
        """The lanes this session holds according to PostgreSQL itself."""
        with self._session() as conn:
            return {int(r[0]) for r in conn.execute(_HELD_LANES, (LANE_LOCK_CLASS,))}

    def verify_leases(self, lanes: set[int]) -> None:
        """Raise `LeaseLost` unless this session still holds every lane in `lanes`.

        Called right before a batch is produced, so a relay whose session (hence leases) went
        away while it worked never publishes rows of a lane that another relay may now hold.
        """
        missing = lanes - self.held_lanes()
        if missing:
            self.reset()
            raise LeaseLost(f"lanes {sorted(missing)} are no longer leased by this session")

    # --- rows -------------------------------------------------------------------------------
    def fetch_pending(self, limit: int, in_flight: Sequence[int] = ()) -> list[OutboxRow]:
        """Pending rows of the held lanes in id order, none behind a parked row of its key,
        leaving out `in_flight` (a batch being published while this one is fetched)."""
        if not self.lanes:
            return []
        params = {"lanes": int_array(sorted(self.lanes)), "limit": limit,
                  "in_flight": int_array(in_flight)}
        with self._session() as conn:
            # Planned afresh each time (no prepared generic plan): a plan cached while the
            # outbox was empty would be kept for the 100k-row backlog that follows.
            # Binary results: bytea arrives as is instead of hex text (avro_value is most of a
            # row's bytes), numbers without parsing — ~1-2 us a row less on both sides.
            rows = conn.execute(_FETCH, params, prepare=False, binary=True).fetchall()
        return [OutboxRow(*r) for r in rows]

    def load_payloads(self, rows: Sequence[OutboxRow]) -> None:
        """Fill in the payload of rows fetched without one (their stored value is stale)."""
        if not rows:
            return
        with self._session() as conn:
            payloads = dict(conn.execute(
                "SELECT id, payload FROM outbox_events WHERE id = ANY(%s::bigint[])",
                (int_array(r.id for r in rows),),
            ).fetchall())
        for row in rows:
            row.payload = payloads.get(row.id)

    def settle(self, outcome: BatchOutcome) -> None:
        """Record a batch's outcome in one statement (published, parked, failed attempts)."""
        columns = settle_rows(outcome)
        ids = columns[0]
        if not ids:
            return
        with self._session() as conn:
            ids, states, partitions, offsets, errors, retries = columns
            nulls = "{" + ",".join(["NULL"] * len(ids)) + "}"
            conn.execute(_SETTLE, (
                int_array(ids), "{" + ",".join(states) + "}", int_array(partitions),
                int_array(offsets),
                errors if any(errors) else nulls,
                "{" + ",".join("NULL" if r is None else repr(float(r)) for r in retries) + "}",
                min(ids), max(ids),
            ), prepare=False)

    def delete_published_before(self, seconds: float, limit: int = 10_000) -> int:
        """Retention: drop published/skipped rows older than `seconds`, a bounded chunk a call."""
        with self._session() as conn:
            cur = conn.execute(
                """DELETE FROM outbox_events WHERE id IN (
                       SELECT id FROM outbox_events
                       WHERE state IN ('published', 'skipped')
                         AND published_at < clock_timestamp() - make_interval(secs => %s)
                       LIMIT %s)""",
                (seconds, limit),
            )
            return cur.rowcount

    def requeue_due(self) -> list[int]:
        """Put parked rows whose retry time has come back in line (rows held for a schema
        version that was unknown); returns their ids."""
        with self._session() as conn:
            return sorted(int(r[0]) for r in conn.execute(_REQUEUE))

    def backlog(self) -> tuple[int, float, int, int]:
        """(pending rows, age in seconds of the oldest pending row, parked rows, parked rows
        that will be retried)."""
        with self._session() as conn:
            row = conn.execute(
                """SELECT count(*) FILTER (WHERE state = 'pending'),
                          coalesce(extract(epoch FROM clock_timestamp()
                                   - min(created_at) FILTER (WHERE state = 'pending')), 0),
                          count(*) FILTER (WHERE state = 'parked'),
                          count(*) FILTER (WHERE state = 'parked' AND retry_at IS NOT NULL)
                   FROM outbox_events WHERE state IN ('pending', 'parked')"""
            ).fetchone()
        assert row is not None
        return int(row[0]), float(row[1]), int(row[2]), int(row[3])

    # --- wake-ups ---------------------------------------------------------------------------
    def wait_for_notify(self, timeout: float) -> bool:
        """Block until a NOTIFY arrives or `timeout` passes (NOTIFY is only a hint)."""
        with self._session() as conn:
            return any(True for _ in conn.notifies(timeout=timeout, stop_after=1))
