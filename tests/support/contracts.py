"""Contract suites of the ports: one abstract suite per port, inherited by a test class per
adapter (the in-memory ones in tests/unit, the PostgreSQL ones in tests/integration), so every
adapter is held to the same behaviour — pyeventsourcing's pattern.

A subclass provides `store()` (and what else its suite names); pytest collects the
inherited `test_*` methods for it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from nmc.contract.envelope import Envelope, new_event
from nmc.infra.dead_letters import DeadLetterStore
from nmc_streams.batch import StateStore
from producers.outbox.table import OUTBOX_LANES
from producers.relay.outcome import BatchOutcome, Delivery, RowResult
from producers.relay.ports import LeaseLost, OutboxRow, RelayStore, StoreUnavailable
from support.waits import wait_until


def _letter(group: str, offset: int, **extra: Any) -> dict[str, Any]:
    return {"group_id": group, "app": "reactions", "topic": "nmc.telephony", "partition": 2,
            "offset": offset, "record_key": "t:c", "event_id": str(uuid.uuid4()),
            "event_name": "nmc.telephony.CallDetected", "tenant_id": str(uuid.uuid4()),
            "event": None, "raw_value": b"\x00\x00\x00\x00\x01raw",
            "headers": {"event_name": "nmc.telephony.CallDetected"},
            "error": "permanent: boom", "attempts": 1, **extra}


class DeadLetterStoreContract:
    """What every `DeadLetterStore` does."""

    def store(self) -> DeadLetterStore:
        raise NotImplementedError

    def test_a_letter_is_kept_with_its_bytes_headers_and_error(self) -> None:
        store, group = self.store(), f"g-{uuid.uuid4()}"
        letter = _letter(group, 7)
        store.record(letter)
        [row] = store.rows(group)
        assert row == letter

    def test_a_redelivered_record_is_kept_once(self) -> None:
        store, group = self.store(), f"g-{uuid.uuid4()}"
        first = _letter(group, 7)
        store.record(first)
        store.record(_letter(group, 7, error="second attempt", attempts=5))
        assert [r["error"] for r in store.rows(group)] == ["permanent: boom"]

    def test_offsets_and_groups_are_apart(self) -> None:
        store, group, other = self.store(), f"g-{uuid.uuid4()}", f"g-{uuid.uuid4()}"
        for offset in (3, 1, 2):
            store.record(_letter(group, offset))
        store.record(_letter(other, 1))
        assert [r["offset"] for r in store.rows(group)] == [3, 1, 2]
        assert [r["group_id"] for r in store.rows(other)] == [other]


class StateStoreContract:
    """What every projector `StateStore` does (entity states; rows go with them)."""

    def store(self) -> StateStore:
        raise NotImplementedError

    def test_missing_entities_are_absent(self) -> None:
        assert self.store().load({(f"t:{uuid.uuid4()}", "conversation")}) == {}

    def test_written_states_load_back(self) -> None:
        store, key = self.store(), f"t:{uuid.uuid4()}"
        state = {"facts": [{"n": "CallDetected", "t": "2026-01-01T00:00:00.000Z"}], "seen": 1}
        store.write({(key, "conversation"): (state, 1)}, {})
        assert store.load({(key, "conversation"), (key, "other")}) == {
            (key, "conversation"): state}

    def test_an_older_version_never_replaces_a_newer_one(self) -> None:
        store, key = self.store(), f"t:{uuid.uuid4()}"
        store.write({(key, "e"): ({"v": "new"}, 5)}, {})
        store.write({(key, "e"): ({"v": "stale"}, 4)}, {})
        assert store.load({(key, "e")}) == {(key, "e"): {"v": "new"}}
        store.write({(key, "e"): ({"v": "same version, later write"}, 5)}, {})
        assert store.load({(key, "e")}) == {(key, "e"): {"v": "same version, later write"}}

    def test_states_and_rows_are_written_together_or_not_at_all(self) -> None:
        store, key = self.store(), f"t:{uuid.uuid4()}"
        try:
            store.write({(key, "e"): ({"v": 1}, 1)}, {"no_such_read_model": [{"x": 1}]})
        except Exception:
            pass
        else:
            raise AssertionError("a row for an unknown table was accepted")
        assert store.load({(key, "e")}) == {}


ALL_LANES = list(range(OUTBOX_LANES))


def _message(tenant: uuid.UUID, conversation: uuid.UUID) -> Envelope:
    return new_event(
        "nmc.conversation.MessageSent", tenant_id=tenant, correlation_id=conversation,
        payload={"message_id": str(uuid.uuid4()), "conversation_id": str(conversation),
                 "direction": "out", "status": "queued"},
    )


def _leases(store: RelayStore, lanes: list[int]) -> set[int]:
    """Lease what is free of `lanes`; the lanes of `lanes` the session holds now."""
    store.try_lease(lanes, len(lanes))
    return set(store.lanes) & set(lanes)


def _result(row: OutboxRow, delivery: Delivery, error: str | None = None,
            retry_after_s: float | None = None) -> RowResult:
    return RowResult(row.id, row.record_key, delivery, error,
                     partition=0 if delivery is Delivery.ACKED else None,
                     offset=row.id if delivery is Delivery.ACKED else None,
                     retry_after_s=retry_after_s)


class RelayStoreContract:
    """What every `RelayStore` does: one session of a relay on one (fresh) outbox.

    A subclass provides `store()` (a new session on the test's outbox), `append` (commit
    events to that outbox), `notify` (a wake-up from another session) and `terminate` (the
    server ends a session, as `pg_terminate_backend` does)."""

    def store(self) -> RelayStore:
        raise NotImplementedError

    def append(self, events: Sequence[Envelope], avro_value: bytes | None = None) -> None:
        raise NotImplementedError

    def notify(self) -> None:
        raise NotImplementedError

    def terminate(self, store: RelayStore) -> None:
        raise NotImplementedError

    def _leased(self) -> RelayStore:
        store = self.store()
        store.join()
        assert store.try_lease(ALL_LANES, OUTBOX_LANES) == ALL_LANES
        return store

    # --- leases -------------------------------------------------------------------------
    def test_a_lane_is_leased_by_one_session_at_a_time(self) -> None:
        first, second = self.store(), self.store()
        assert first.try_lease([5, 2, 9], 2) == [5, 2]  # in the given order, up to the limit
        assert second.try_lease([2, 5, 9], 3) == [9]
        first.release([2])
        assert second.try_lease([2, 5], 2) == [2]
        assert set(first.lanes) == {5} and set(second.lanes) == {2, 9}

    def test_leases_die_with_the_session(self) -> None:
        first, second = self._leased(), self.store()
        assert second.try_lease(ALL_LANES, OUTBOX_LANES) == []
        first.reset()
        assert set(first.lanes) == set() and not first.joined
        # The server frees a closed session's locks once its backend has exited: soon.
        wait_until(lambda: _leases(second, ALL_LANES) == set(ALL_LANES),
                    "the closed session's leases to be free")

    def test_verifying_a_lane_not_held_loses_every_lease(self) -> None:
        store = self.store()
        store.try_lease([1, 2], 2)
        store.verify_leases({1, 2})
        with pytest.raises(LeaseLost):
            store.verify_leases({1, 3})
        assert set(store.lanes) == set()
        other = self.store()
        wait_until(lambda: _leases(other, [1, 2]) == {1, 2},
                    "the lost session's leases to be free")

    def test_joined_sessions_are_counted_until_they_go(self) -> None:
        first, second = self.store(), self.store()
        first.join()
        second.join()
        assert first.joined and second.joined
        assert first.live_relays() == 2
        second.close()
        wait_until(lambda: first.live_relays() == 1, "the closed session to leave")

    def test_a_terminated_session_fails_once_and_its_leases_are_free(self) -> None:
        doomed = self._leased()
        self.terminate(doomed)
        other = self.store()
        wait_until(lambda: other.try_lease([7], 1) == [7], "the terminated session's lease")
        with pytest.raises(StoreUnavailable):
            doomed.live_relays()
        assert set(doomed.lanes) == set() and not doomed.joined
        doomed.join()  # a new session
        assert doomed.live_relays() == 1

    def test_a_reset_after_the_session_was_terminated_opens_a_new_one(self) -> None:
        doomed = self._leased()
        self.terminate(doomed)
        doomed.reset()  # what the relay does before joining again
        doomed.join()
        assert doomed.live_relays() == 1

    # --- rows ---------------------------------------------------------------------------
    def test_no_lane_no_rows(self) -> None:
        self.append([_message(uuid.uuid4(), uuid.uuid4())])
        assert self.store().fetch_pending(10) == []

    def test_pending_rows_come_in_commit_order_with_their_fields(self) -> None:
        tenant, conversation = uuid.uuid4(), uuid.uuid4()
        events = [_message(tenant, conversation) for _ in range(3)]
        self.append(events[:2])
        self.append(events[2:])
        rows = self._leased().fetch_pending(10)
        assert [r.event_id for r in rows] == [str(e.event_id) for e in events]
        assert [r.id for r in rows] == sorted(r.id for r in rows)
        first, event = rows[0], events[0]
        assert (first.event_name, first.schema_version, first.tenant_id, first.correlation_id,
                first.causation_id, first.topic, first.record_key, first.attempts) == (
            event.event_name, event.schema_version, str(tenant), str(conversation), None,
            event.topic, event.key, 0)
        assert first.payload == event.payload and first.avro_value is None
        assert first.occurred_ms == int(event.occurred_at.timestamp() * 1000)
        assert first.occurred_at.endswith("Z")
        assert len({r.lane for r in rows}) == 1 and 0 <= first.lane < OUTBOX_LANES
        assert abs(first.created_epoch_s - time.time()) < 60

    def test_only_rows_of_held_lanes_are_fetched(self) -> None:
        self.append([_message(uuid.uuid4(), uuid.uuid4()) for _ in range(12)])
        store = self._leased()
        rows = store.fetch_pending(100)
        lane = rows[0].lane
        store.release([n for n in ALL_LANES if n != lane])
        assert [r.id for r in store.fetch_pending(100)] == [r.id for r in rows if r.lane == lane]

    def test_the_limit_and_the_rows_in_flight_are_respected(self) -> None:
        self.append([_message(uuid.uuid4(), uuid.uuid4()) for _ in range(5)])
        store = self._leased()
        ids = [r.id for r in store.fetch_pending(100)]
        assert [r.id for r in store.fetch_pending(2)] == ids[:2]
        assert [r.id for r in store.fetch_pending(2, ids[:2])] == ids[2:4]
        assert [r.id for r in store.fetch_pending(10, [ids[1], ids[3]])] == ids[::2]

    def test_a_stored_value_comes_without_its_payload_until_loaded(self) -> None:
        event = _message(uuid.uuid4(), uuid.uuid4())
        self.append([event], avro_value=b"\x00\x00\x00\x00\x01value")
        store = self._leased()
        [row] = store.fetch_pending(10)
        assert row.payload is None and row.avro_value == b"\x00\x00\x00\x00\x01value"
        store.load_payloads([row])
        assert row.payload == event.payload

    # --- settlement ---------------------------------------------------------------------
    def test_settling_publishes_parks_and_retries_and_a_parked_row_holds_its_key(self) -> None:
        tenant, a, b = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        self.append([_message(tenant, a), _message(tenant, b), _message(tenant, a),
                     _message(tenant, b)])
        store = self._leased()
        a1, b1, a2, b2 = store.fetch_pending(10)
        store.settle(BatchOutcome(
            published=[_result(b1, Delivery.ACKED)],
            parked=[_result(a1, Delivery.PERMANENT, "cannot encode")],
            retry=[_result(a2, Delivery.NOT_SENT), _result(b2, Delivery.TRANSIENT, "timeout")],
        ))
        # a2 waits behind parked a1; b2 failed an attempt and is pending again.
        [again] = store.fetch_pending(10)
        assert again.id == b2.id and again.attempts == 1
        assert store.backlog()[0::2] == (2, 1)  # pending a2 and b2, parked a1
        store.settle(BatchOutcome(published=[_result(again, Delivery.ACKED)]))
        assert store.fetch_pending(10) == []

    def test_only_pending_rows_are_settled(self) -> None:
        self.append([_message(uuid.uuid4(), uuid.uuid4())])
        store = self._leased()
        [row] = store.fetch_pending(10)
        store.settle(BatchOutcome(parked=[_result(row, Delivery.PERMANENT, "bad")]))
        store.settle(BatchOutcome(published=[_result(row, Delivery.ACKED)]))
        pending, _, parked, retried = store.backlog()
        assert (pending, parked, retried) == (0, 1, 0)

    def test_a_held_row_comes_back_when_its_time_is_due(self) -> None:
        self.append([_message(uuid.uuid4(), uuid.uuid4()) for _ in range(2)])
        store = self._leased()
        soon, later = store.fetch_pending(10)
        store.settle(BatchOutcome(parked=[
            _result(soon, Delivery.HELD, "unknown version", retry_after_s=0.0),
            _result(later, Delivery.HELD, "unknown version", retry_after_s=3600.0),
        ]))
        assert store.backlog()[2:] == (2, 2)
        assert store.requeue_due() == [soon.id]
        [row] = store.fetch_pending(10)
        assert row.id == soon.id and row.attempts == 1
        assert store.requeue_due() == []

    def test_retention_deletes_only_old_published_rows(self) -> None:
        self.append([_message(uuid.uuid4(), uuid.uuid4()) for _ in range(3)])
        store = self._leased()
        done, parked, pending = store.fetch_pending(10)
        store.settle(BatchOutcome(published=[_result(done, Delivery.ACKED)],
                                  parked=[_result(parked, Delivery.PERMANENT, "bad")]))
        assert store.delete_published_before(3600) == 0
        time.sleep(0.01)
        assert store.delete_published_before(0) == 1
        assert store.delete_published_before(0) == 0
        assert store.backlog()[0::2] == (1, 1)
        assert [r.id for r in store.fetch_pending(10)] == [pending.id]

    def test_backlog_ages_the_oldest_pending_row(self) -> None:
        assert self.store().backlog() == (0, 0.0, 0, 0)
        self.append([_message(uuid.uuid4(), uuid.uuid4())])
        time.sleep(0.05)
        pending, age, _, _ = self.store().backlog()
        assert pending == 1 and 0.04 < age < 60

    # --- wake-ups -----------------------------------------------------------------------
    def test_a_wakeup_ends_the_wait_and_is_only_a_hint(self) -> None:
        store = self.store()
        store.join()
        assert store.wait_for_notify(0.05) is False
        self.notify()
        assert store.wait_for_notify(5.0) is True
        assert store.wait_for_notify(0.05) is False
