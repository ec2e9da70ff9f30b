"""In-memory adapters of the relay's ports (ports.py): the relay's logic without services.

`InMemoryOutbox` plays the `outbox_events` table with the lane locks and wake-ups of its
database; each `InMemoryRelayStore` is one relay's session on it (what `OutboxStore` is on
PostgreSQL) and passes the same contract suite (tests/support/contracts.py).
`InMemoryPublisher` appends to per-partition logs (`PartitionLogs`, shareable by several
relays like one cluster) and fails the rows its `fault` callable names, as Kafka would.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum

from nmc.contract.envelope import Envelope
from nmc.contract.keys import java_partition
from nmc.contract.payload import format_rfc3339_utc
from producers.outbox.table import OUTBOX_LANES
from producers.relay.outcome import BatchOutcome, Delivery, RowResult, settle_rows
from producers.relay.ports import LeaseLost, OutboxRow, StoreUnavailable, TransientPublishError


def lane_of(record_key: str) -> int:
    """A stable lane per key. Not PostgreSQL's `hashtext`: lanes need only be stable and
    spread, and nothing outside one outbox compares them."""
    return zlib.crc32(record_key.encode()) % OUTBOX_LANES


@dataclass
class StoredRow:
    """One `outbox_events` row: what the relay fetches plus the columns it settles."""

    row: OutboxRow
    state: str = "pending"
    last_error: str | None = None
    published_at: float | None = None
    kafka_partition: int | None = None
    kafka_offset: int | None = None
    retry_at: float | None = None


class InMemoryOutbox:
    """The outbox table and its database's session state (lane locks, members, LISTEN).

    One lock guards everything, as each PostgreSQL statement is atomic. `clock` is the
    server's clock (retention, retry times); `available = False` plays a server that is down.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.available = True
        self.rows: dict[int, StoredRow] = {}
        self._event_ids: set[str] = set()
        self._ids = itertools.count(1)
        self._sessions = itertools.count(1)
        self.lock = threading.Lock()
        self.lane_owners: dict[int, int] = {}
        self.members: set[int] = set()
        self._woken = threading.Condition(self.lock)
        self._wakeups: dict[int, int] = {}

    def new_session(self) -> int:
        return next(self._sessions)

    def append(self, events: Iterable[Envelope], avro_value: bytes | None = None) -> int:
        """Commit events in one transaction (their ids in the given order); an `event_id`
        already in the outbox is skipped, as the writer does. Returns how many were new."""
        new = 0
        with self.lock:
            for event in events:
                event_id = str(event.event_id)
                if event_id in self._event_ids:
                    continue
                self._event_ids.add(event_id)
                row_id = next(self._ids)
                self.rows[row_id] = StoredRow(OutboxRow(
                    row_id, event_id, event.event_name, event.schema_version,
                    str(event.tenant_id), str(event.correlation_id),
                    None if event.causation_id is None else str(event.causation_id),
                    format_rfc3339_utc(event.occurred_at),
                    int(event.occurred_at.timestamp() * 1000),
                    json.loads(json.dumps(event.payload)), event.topic, event.key, 0,
                    self.clock(), lane_of(event.key), avro_value,
                ))
                new += 1
        return new

    def notify(self) -> None:
        """NOTIFY: every listening session gets a wake-up (kept until it waits)."""
        with self._woken:
            for session in self._wakeups:
                self._wakeups[session] += 1
            self._woken.notify_all()

    def states(self) -> dict[int, str]:
        with self.lock:
            return {row_id: stored.state for row_id, stored in self.rows.items()}

    def drop_session(self, session: int) -> None:
        """What the server does when a session ends: its locks and LISTEN go (lock held)."""
        self.members.discard(session)
        self._wakeups.pop(session, None)
        for lane in [lane for lane, owner in self.lane_owners.items() if owner == session]:
            del self.lane_owners[lane]

    def listen(self, session: int) -> None:
        self._wakeups.setdefault(session, 0)

    def wait_for_wakeup(self, session: int, timeout: float) -> bool:
        with self._woken:
            if self._wakeups.get(session, 0) == 0:
                self._woken.wait_for(lambda: self._wakeups.get(session, 0) > 0, timeout)
            if self._wakeups.get(session, 0) > 0:
                self._wakeups[session] -= 1
                return True
            return False


class InMemoryRelayStore:
    """`RelayStore` as one session on an `InMemoryOutbox`.

    `terminate` plays `pg_terminate_backend`: the server drops the session's leases at once,
    and the next call raises `StoreUnavailable` (then a new session opens lazily)."""

    def __init__(self, outbox: InMemoryOutbox) -> None:
        self.outbox = outbox
        self.lanes: set[int] = set()
        self.joined = False
        self._session: int | None = None
        self._terminated = False

    @property
    def backend_pid(self) -> int | None:
        return self._session

    @contextmanager
    def _statement(self) -> Iterator[int]:
        """The session (opened lazily) under the outbox lock, as one atomic statement."""
        if self._terminated:
            self._terminated = False
            self.reset()
            raise StoreUnavailable("session terminated by the server")
        if not self.outbox.available:
            self.reset()
            raise StoreUnavailable("cannot connect to the outbox")
        if self._session is None:
            self.lanes.clear()
            self.joined = False
            self._session = self.outbox.new_session()
        with self.outbox.lock:
            yield self._session

    def terminate(self) -> None:
        """The server ends this session (leases and membership go now, the client learns it
        at its next call)."""
        with self.outbox.lock:
            if self._session is not None:
                self.outbox.drop_session(self._session)
        self._terminated = True

    def reset(self) -> None:
        session, self._session = self._session, None
        self._terminated = False  # the next call opens a new session
        self.lanes.clear()
        self.joined = False
        if session is not None:
            with self.outbox.lock:
                self.outbox.drop_session(session)

    def close(self) -> None:
        self.reset()

    # --- membership and leases ------------------------------------------------------------
    def join(self) -> None:
        with self._statement() as session:
            self.outbox.members.add(session)
            self.outbox.listen(session)
        self.joined = True

    def live_relays(self) -> int:
        with self._statement():
            return len(self.outbox.members)

    def try_lease(self, candidates: Sequence[int], limit: int) -> list[int]:
        got: list[int] = []
        with self._statement() as session:
            owners = self.outbox.lane_owners
            for lane in candidates:
                if len(got) >= limit:
                    break
                if lane in self.lanes:
                    continue
                if owners.setdefault(lane, session) == session:
                    got.append(lane)
                    self.lanes.add(lane)
        return got

    def release(self, lanes: Sequence[int]) -> None:
        with self._statement() as session:
            for lane in lanes:
                if self.outbox.lane_owners.get(lane) == session:
                    del self.outbox.lane_owners[lane]
                self.lanes.discard(lane)

    def held_lanes(self) -> set[int]:
        with self._statement() as session:
            return {lane for lane, owner in self.outbox.lane_owners.items() if owner == session}

    def verify_leases(self, lanes: set[int]) -> None:
        missing = lanes - self.held_lanes()
        if missing:
            self.reset()
            raise LeaseLost(f"lanes {sorted(missing)} are no longer leased by this session")

    # --- rows -------------------------------------------------------------------------------
    def fetch_pending(self, limit: int, in_flight: Sequence[int] = ()) -> list[OutboxRow]:
        if not self.lanes:
            return []
        skip = set(in_flight)
        found: list[OutboxRow] = []
        with self._statement():
            parked: dict[str, int] = {}  # key -> its lowest parked id
            for row_id in sorted(self.outbox.rows):
                stored = self.outbox.rows[row_id]
                if stored.state == "parked":
                    parked.setdefault(stored.row.record_key, row_id)
            for row_id in sorted(self.outbox.rows):
                if len(found) >= limit:
                    break
                stored = self.outbox.rows[row_id]
                row = stored.row
                if (stored.state != "pending" or row.lane not in self.lanes or row_id in skip
                        or parked.get(row.record_key, row_id) < row_id):
                    continue
                # A copy, as a query returns one; a stored value comes without the payload.
                found.append(dataclasses.replace(
                    row, payload=None if row.avro_value is not None else row.payload))
        return found

    def load_payloads(self, rows: Sequence[OutboxRow]) -> None:
        if not rows:
            return
        with self._statement():
            for row in rows:
                stored = self.outbox.rows.get(row.id)
                row.payload = None if stored is None else stored.row.payload

    def settle(self, outcome: BatchOutcome) -> None:
        ids, states, partitions, offsets, errors, retries = settle_rows(outcome)
        if not ids:
            return
        with self._statement():
            now = self.outbox.clock()
            for row_id, state, partition, offset, error, retry_s in zip(
                ids, states, partitions, offsets, errors, retries, strict=True
            ):
                stored = self.outbox.rows.get(row_id)
                if stored is None or stored.state != "pending":
                    continue
                stored.state = state
                stored.published_at = now if state == "published" else None
                stored.row.attempts += 1
                stored.last_error = error
                stored.kafka_partition, stored.kafka_offset = partition, offset
                stored.retry_at = None if retry_s is None else now + retry_s

    def delete_published_before(self, seconds: float, limit: int = 10_000) -> int:
        with self._statement():
            cutoff = self.outbox.clock() - seconds
            old = [row_id for row_id, s in self.outbox.rows.items()
                   if s.state in ("published", "skipped")
                   and s.published_at is not None and s.published_at < cutoff][:limit]
            for row_id in old:
                del self.outbox.rows[row_id]
            return len(old)

    def requeue_due(self) -> list[int]:
        with self._statement():
            now = self.outbox.clock()
            due = sorted(row_id for row_id, s in self.outbox.rows.items()
                         if s.state == "parked" and s.retry_at is not None and s.retry_at <= now)
            for row_id in due:
                self.outbox.rows[row_id].state = "pending"
                self.outbox.rows[row_id].retry_at = None
            return due

    def backlog(self) -> tuple[int, float, int, int]:
        with self._statement():
            rows = self.outbox.rows.values()
            pending = [s.row.created_epoch_s for s in rows if s.state == "pending"]
            parked = [s for s in rows if s.state == "parked"]
            age = self.outbox.clock() - min(pending) if pending else 0.0
            return (len(pending), age, len(parked),
                    sum(1 for s in parked if s.retry_at is not None))

    def wait_for_notify(self, timeout: float) -> bool:
        with self._statement() as session:
            pass
        return self.outbox.wait_for_wakeup(session, timeout)


# --- Kafka --------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoggedRecord:
    """A record as a partition's log keeps it."""

    key: str
    event_id: str
    row_id: int
    offset: int


class PartitionLogs:
    """The topics' partitions as append-only logs (several publishers may share one)."""

    def __init__(self, partitions: int = 6) -> None:
        self.partitions = partitions
        self.logs: dict[tuple[str, int], list[LoggedRecord]] = defaultdict(list)
        self._lock = threading.Lock()

    def append(self, topic: str, row: OutboxRow) -> tuple[int, int]:
        """Append `row` to its key's partition (the Java client's partitioner); returns
        (partition, offset)."""
        partition = java_partition(row.record_key, self.partitions)
        with self._lock:
            log = self.logs[(topic, partition)]
            log.append(LoggedRecord(row.record_key, row.event_id, row.id, len(log)))
            return partition, len(log) - 1

    def records(self) -> list[LoggedRecord]:
        """Every record, partition by partition, each partition in log order."""
        with self._lock:
            return [r for _, log in sorted(self.logs.items()) for r in log]


class Fault(Enum):
    """What `InMemoryPublisher.fault` makes of a row."""

    TRANSIENT = "transient"  # the partition's leader is away: this and its later records fail
    PERMANENT = "permanent"  # the row cannot be encoded: parked, its key held back
    HELD = "held"  # its schema version is unknown yet: parked with a retry time
    UNAVAILABLE = "unavailable"  # the registry is down: the whole batch raises


@dataclass
class InMemoryLink:
    connected: bool = True


@dataclass
class MemoryInFlight:
    """A started batch: its verdicts are known at once, handed out by `finish`."""

    results: list[RowResult] = field(default_factory=list)


class InMemoryPublisher:
    """`Publisher` onto `PartitionLogs`, with Kafka's per-partition rule: a record that fails
    takes the later records of its partition in the same batch down with it (an idempotent
    producer never lets a later record of a partition land before an earlier failed one).

    `fault(row)` decides each row's fate (None: acknowledged); `held_retry_s` is the retry
    delay of HELD rows."""

    def __init__(self, logs: PartitionLogs | None = None,
                 fault: Callable[[OutboxRow], Fault | None] | None = None,
                 held_retry_s: float = 30.0) -> None:
        self.logs = logs if logs is not None else PartitionLogs()
        self.fault = fault
        self.link = InMemoryLink()
        self.encoded = 0
        self.held_retry_s = held_retry_s
        self.batches: list[list[int]] = []  # row ids of each started batch (tests)

    def stale_without_payload(self, rows: Sequence[OutboxRow]) -> list[OutboxRow]:
        return []  # every stored value is taken as framed with its own version's id

    def start(self, rows: Sequence[OutboxRow]) -> MemoryInFlight:
        fates = {row.id: self.fault(row) if self.fault else None for row in rows}
        if Fault.UNAVAILABLE in fates.values():
            raise TransientPublishError("schema registry unavailable (injected)")
        self.batches.append([row.id for row in rows])
        batch = MemoryInFlight()
        blocked_keys: set[str] = set()
        down: set[tuple[str, int]] = set()  # partitions whose request failed
        for row in rows:
            key, fate = row.record_key, fates[row.id]
            partition = (row.topic, java_partition(key, self.logs.partitions))
            if key in blocked_keys:
                batch.results.append(RowResult(row.id, key, Delivery.NOT_SENT))
            elif fate is Fault.PERMANENT:
                blocked_keys.add(key)
                batch.results.append(RowResult(row.id, key, Delivery.PERMANENT, "injected"))
            elif fate is Fault.HELD:
                blocked_keys.add(key)
                batch.results.append(RowResult(row.id, key, Delivery.HELD, "injected",
                                               retry_after_s=self.held_retry_s))
            elif fate is Fault.TRANSIENT or partition in down:
                down.add(partition)
                batch.results.append(RowResult(row.id, key, Delivery.TRANSIENT,
                                               "kafka: partition unavailable (injected)"))
            else:
                if row.payload is not None and row.avro_value is None:
                    self.encoded += 1
                number, offset = self.logs.append(row.topic, row)
                batch.results.append(RowResult(row.id, key, Delivery.ACKED,
                                               partition=number, offset=offset))
        return batch

    def finish(self, batch: MemoryInFlight) -> list[RowResult]:
        return batch.results

    def probe(self, timeout_s: float) -> bool:
        return self.link.connected

    def close(self) -> None:
        pass
