"""The relay's prefetch and settle logic against the in-memory adapters (no services).

The relay properties of DESIGN.md §4 are proven on the real stack in
tests/integration/test_relay_properties.py; here the same rules are provoked one step at a
time: the batch in flight left out of the prefetch, prefetched rows of a failed key or of a
lane given up dropped, a session lost between Kafka's ack and the settle — and, as hypothesis
properties, per-key order and no loss under injected failures, kills and two relays.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.settings import PlatformSettings as Settings

from nmc.contract.envelope import Envelope, new_event
from nmc.contract.keys import java_partition, record_key
from producers.relay.memory import (
    Fault,
    InMemoryOutbox,
    InMemoryPublisher,
    InMemoryRelayStore,
    PartitionLogs,
)
from producers.relay.outcome import BatchOutcome
from producers.relay.ports import OutboxRow, StoreUnavailable, TransientPublishError
from producers.relay.relay import OutboxRelay

TENANT = uuid.UUID(int=27)


def _apart(count: int) -> list[uuid.UUID]:
    """Conversations whose keys land on different partitions (a transient failure of one
    partition then leaves the others' rows acknowledged: the tests rely on it)."""
    found: dict[int, uuid.UUID] = {}
    for n in itertools.count(1):
        conversation = uuid.UUID(int=n)
        found.setdefault(java_partition(record_key(TENANT, conversation), PARTITIONS),
                         conversation)
        if len(found) == count:
            return list(found.values())
    raise AssertionError


PARTITIONS = 6
CONVERSATIONS = _apart(4)


def message(conversation: uuid.UUID) -> Envelope:
    return new_event(
        "nmc.conversation.MessageSent", tenant_id=TENANT, correlation_id=conversation,
        payload={"message_id": str(uuid.uuid4()), "conversation_id": str(conversation),
                 "direction": "out", "status": "queued"},
    )


def relay_settings(batch_size: int) -> Settings:
    """Rebalance and housekeeping at every turn, so the tests decide when lanes move."""
    return Settings(nmc_relay_batch_size=batch_size, nmc_relay_poll_interval_s=1e-9,
                    nmc_relay_cleanup_interval_s=1e-9)


class RecordingStore(InMemoryRelayStore):
    """Records its fetches; `die_at_settle` ends its session after Kafka acknowledged a batch
    and before the batch is marked (a relay killed there); `settle_delay_s` slows settling."""

    def __init__(self, outbox: InMemoryOutbox) -> None:
        super().__init__(outbox)
        self.fetches: list[tuple[int, tuple[int, ...]]] = []
        self.die_at_settle = False
        self.settle_delay_s = 0.0
        self.unmarked: list[int] = []

    def fetch_pending(self, limit: int, in_flight: Sequence[int] = ()) -> list[OutboxRow]:
        self.fetches.append((limit, tuple(in_flight)))
        return super().fetch_pending(limit, in_flight)

    def settle(self, outcome: BatchOutcome) -> None:
        if self.die_at_settle:
            self.die_at_settle = False
            self.unmarked += [r.row_id for r in outcome.published]
            self.terminate()
            raise StoreUnavailable("killed between the ack and the settle")
        time.sleep(self.settle_delay_s)
        super().settle(outcome)


class Relay:
    """One relay on the shared outbox and logs, driven one turn of `OutboxRelay.run` at a time."""

    def __init__(self, outbox: InMemoryOutbox, logs: PartitionLogs, batch_size: int,
                 fault: Callable[[OutboxRow], Fault | None] | None = None,
                 with_settler: bool = False) -> None:
        self.store = RecordingStore(outbox)
        self.settler = RecordingStore(outbox) if with_settler else None
        self.publisher = InMemoryPublisher(logs, fault, held_retry_s=0.0)
        self.relay = OutboxRelay(relay_settings(batch_size), self.store, self.publisher,
                                 settler=self.settler)

    def turn(self) -> int:
        """The body of `OutboxRelay.run`'s loop, without its sleeps: join when needed, one
        batch, housekeeping; an outage ends the turn as it ends the loop's iteration."""
        try:
            if not self.store.joined:
                assert self.relay._join(threading.Event())
            handled = self.relay.run_once()
            self.relay.housekeeping()
            return handled
        except TransientPublishError:
            return -1
        except StoreUnavailable as exc:
            self.relay._lost_store(exc)
            return -1

    def dies_at_next_settle(self) -> None:
        (self.settler or self.store).die_at_settle = True

    def close(self) -> None:
        self.relay.close()


def first_seen_per_key(logs: PartitionLogs) -> dict[str, list[str]]:
    """Each key's event ids in the order they first reach their partition (consumers dedupe
    by event_id)."""
    seen: dict[str, list[str]] = defaultdict(list)
    for record in logs.records():
        if record.event_id not in seen[record.key]:
            seen[record.key].append(record.event_id)
    return seen


def committed_per_key(outbox: InMemoryOutbox) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = defaultdict(list)
    for row_id in sorted(outbox.rows):
        row = outbox.rows[row_id].row
        keys[row.record_key].append(row.event_id)
    return keys


def retry_parked(outbox: InMemoryOutbox) -> None:
    """What `nmc outbox retry` does: parked rows back in line."""
    with outbox.lock:
        for stored in outbox.rows.values():
            if stored.state == "parked":
                stored.state, stored.retry_at = "pending", None


def faults_once(faults: dict[int, Fault]) -> Callable[[OutboxRow], Fault | None]:
    """A row's fault on its first try only."""
    tried: set[int] = set()

    def fault(row: OutboxRow) -> Fault | None:
        if row.id in tried:
            return None
        tried.add(row.id)
        return faults.get(row.id)

    return fault


# --- prefetch ---------------------------------------------------------------------------------
def test_a_full_batch_prefetches_the_next_one_leaving_itself_out() -> None:
    outbox, logs = InMemoryOutbox(), PartitionLogs(PARTITIONS)
    outbox.append([message(uuid.uuid4()) for _ in range(5)])
    relay = Relay(outbox, logs, batch_size=2)
    assert [relay.turn() for _ in range(4)] == [2, 2, 1, 0]
    # Batches 2 and 3 came from the prefetch made while the one before was published.
    assert relay.store.fetches == [(2, ()), (2, (1, 2)), (2, (3, 4)), (2, ())]
    assert relay.publisher.batches == [[1, 2], [3, 4], [5]]
    assert set(outbox.states().values()) == {"published"}


def test_a_transient_failure_drops_the_prefetch_and_keeps_the_key_in_order() -> None:
    outbox, logs = InMemoryOutbox(), PartitionLogs(PARTITIONS)
    a, b = CONVERSATIONS[:2]
    outbox.append([message(a), message(b), message(a), message(b)])
    relay = Relay(outbox, logs, batch_size=2, fault=faults_once({1: Fault.TRANSIENT}))
    assert relay.turn() == -1  # a1 not acknowledged: the batch is retried after a backoff
    assert outbox.states() == {1: "pending", 2: "published", 3: "pending", 4: "pending"}
    while relay.turn() > 0:
        pass
    assert relay.publisher.batches[1] == [1, 3]  # fetched afresh: a1 before a2
    assert first_seen_per_key(logs) == committed_per_key(outbox)


def test_a_parked_row_holds_back_its_keys_prefetched_rows_only() -> None:
    outbox, logs = InMemoryOutbox(), PartitionLogs(PARTITIONS)
    a, b = CONVERSATIONS[:2]
    outbox.append([message(a), message(b), message(a), message(b)])
    relay = Relay(outbox, logs, batch_size=2, fault=faults_once({1: Fault.PERMANENT}))
    assert relay.turn() == 2
    assert relay.turn() == 1  # the prefetch [a2, b2] without a2, whose key is parked
    assert relay.turn() == 0
    assert relay.publisher.batches == [[1, 2], [4]]
    assert outbox.states() == {1: "parked", 2: "published", 3: "pending", 4: "published"}
    retry_parked(outbox)
    assert relay.turn() == 2
    assert relay.publisher.batches[-1] == [1, 3]
    assert first_seen_per_key(logs) == committed_per_key(outbox)


def test_a_held_row_is_put_back_in_line_by_housekeeping() -> None:
    outbox, logs = InMemoryOutbox(), PartitionLogs(PARTITIONS)
    outbox.append([message(CONVERSATIONS[0]) for _ in range(2)])
    relay = Relay(outbox, logs, batch_size=10, fault=faults_once({1: Fault.HELD}))
    assert relay.turn() == 2  # held (retry due at once); housekeeping requeues it
    assert outbox.states() == {1: "pending", 2: "pending"}
    assert relay.turn() == 2
    assert set(outbox.states().values()) == {"published"}


def test_prefetched_rows_of_a_lane_given_up_are_left_to_its_new_holder() -> None:
    outbox, logs = InMemoryOutbox(), PartitionLogs(PARTITIONS)
    outbox.append([message(uuid.uuid4()) for _ in range(60)])
    first = Relay(outbox, logs, batch_size=10)
    assert first.turn() == 10  # holds every lane; the next ten are prefetched
    prefetched = first.relay._prefetched
    assert len(prefetched) == 10
    second = Relay(outbox, logs, batch_size=10)
    second.store.join()  # a second relay: the first gives half of its lanes back
    assert first.turn() > 0
    kept = first.store.lanes
    assert kept and len(kept) < 64
    assert all(outbox.rows[i].row.lane in kept for i in first.publisher.batches[1])
    while second.turn() > 0 or first.turn() > 0:
        pass
    assert set(outbox.states().values()) == {"published"}
    assert sorted(r.row_id for r in logs.records()) == list(range(1, 61))  # each once


def test_with_a_settler_the_next_fetch_leaves_out_the_batch_being_settled() -> None:
    """The previous batch is still pending while it is settled in the background; the fetch
    made meanwhile must not take its rows again (they would be published twice)."""
    outbox, logs = InMemoryOutbox(), PartitionLogs(PARTITIONS)
    outbox.append([message(CONVERSATIONS[n % 3]) for n in range(23)])
    relay = Relay(outbox, logs, batch_size=4, with_settler=True)
    assert relay.settler is not None
    relay.settler.settle_delay_s = 0.02
    while relay.turn() > 0:
        pass
    relay.close()
    assert any(len(exclude) > 4 for _, exclude in relay.store.fetches)  # overlap provoked
    assert sorted(r.row_id for r in logs.records()) == list(range(1, 24))
    assert first_seen_per_key(logs) == committed_per_key(outbox)


def test_a_session_lost_after_the_ack_republishes_only_the_unmarked_batch() -> None:
    outbox, logs = InMemoryOutbox(), PartitionLogs(PARTITIONS)
    outbox.append([message(CONVERSATIONS[n % 4]) for n in range(12)])
    relay = Relay(outbox, logs, batch_size=3)
    assert relay.turn() == 3
    relay.store.die_at_settle = True
    assert relay.turn() == -1
    assert relay.store.unmarked == [4, 5, 6]
    while relay.turn() > 0:
        pass
    copies: dict[int, int] = defaultdict(int)
    for record in logs.records():
        copies[record.row_id] += 1
    assert {row_id for row_id, n in copies.items() if n > 1} == {4, 5, 6}
    assert set(copies) == set(range(1, 13)) and max(copies.values()) == 2
    assert first_seen_per_key(logs) == committed_per_key(outbox)


def test_a_relay_never_publishes_a_lane_it_lost() -> None:
    outbox, logs = InMemoryOutbox(), PartitionLogs(PARTITIONS)
    outbox.append([message(uuid.uuid4()) for _ in range(4)])
    relay = Relay(outbox, logs, batch_size=2)
    assert relay.turn() == 2  # rows 3 and 4 prefetched
    relay.store.terminate()  # its leases go at once; it learns it at its next call
    thief = InMemoryRelayStore(outbox)
    assert len(thief.try_lease(list(range(64)), 64)) == 64
    assert relay.turn() == -1
    assert relay.publisher.batches == [[1, 2]]
    assert relay.relay._prefetched == []


# --- properties -------------------------------------------------------------------------------
# Three keys over two relays: few enough that a key often has rows in two batches in a row.
WRITE = st.tuples(st.just("write"), st.lists(st.integers(0, 2), min_size=1, max_size=6))
TURN = st.tuples(st.just("turn"), st.integers(0, 1))
KILL = st.tuples(st.just("kill"), st.integers(0, 1))
KILL_AT_SETTLE = st.tuples(st.just("kill_at_settle"), st.integers(0, 1))
FAULTS = st.lists(st.sampled_from([None, None, Fault.TRANSIENT, Fault.PERMANENT, Fault.HELD,
                                   Fault.UNAVAILABLE]), max_size=60)


@settings(max_examples=200, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(st.one_of(WRITE, TURN, TURN, KILL, KILL_AT_SETTLE), max_size=40),
    faults=FAULTS,
    batch_size=st.integers(1, 5),
    with_settler=st.booleans(),
)
def test_per_key_order_and_no_loss_under_failures_kills_and_two_relays(
    steps: list[tuple[str, object]], faults: list[Fault | None], batch_size: int,
    with_settler: bool,
) -> None:
    """Whatever fails — a record, a partition, the registry, a session before or after Kafka's
    ack — every committed event reaches Kafka, and per key in commit order (duplicates
    aside, which consumers drop by event_id)."""
    outbox, logs = InMemoryOutbox(), PartitionLogs(PARTITIONS)
    pending = list(faults)

    def fault(row: OutboxRow) -> Fault | None:
        return pending.pop(0) if pending else None

    relays = [Relay(outbox, logs, batch_size, fault, with_settler) for _ in range(2)]
    for action, arg in steps:
        if action == "write":
            assert isinstance(arg, list)
            outbox.append([message(CONVERSATIONS[k]) for k in arg])
        elif action == "turn":
            assert isinstance(arg, int)
            relays[arg].turn()
        elif action == "kill":
            assert isinstance(arg, int)
            relays[arg].store.terminate()
        else:
            assert isinstance(arg, int)
            relays[arg].dies_at_next_settle()
    # Drain: the failures stop, an operator retries parked rows, both relays run on.
    pending.clear()
    for relay in relays:
        relay.store.die_at_settle = False
        if relay.settler is not None:
            relay.settler.die_at_settle = False
    for _ in range(200):
        retry_parked(outbox)
        for relay in relays:
            relay.turn()
        if set(outbox.states().values()) <= {"published"}:
            break
    for relay in relays:
        relay.close()
    assert set(outbox.states().values()) <= {"published"}
    assert first_seen_per_key(logs) == committed_per_key(outbox)


def test_the_order_check_sees_a_reordering() -> None:
    """The order check catches a relay that publishes past a failed row of its key."""
    outbox, logs = InMemoryOutbox(), PartitionLogs(PARTITIONS)
    outbox.append([message(CONVERSATIONS[0]) for _ in range(2)])
    rows = InMemoryRelayStore(outbox)
    rows.try_lease(list(range(64)), 64)
    first, second = rows.fetch_pending(2)
    logs.append(second.topic, second)
    logs.append(first.topic, first)
    assert first_seen_per_key(logs) != committed_per_key(outbox)
