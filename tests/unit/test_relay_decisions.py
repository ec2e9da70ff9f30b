"""Pure relay decisions: batch settlement keeps per-key order; lane leasing is fair."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from producers.relay.leases import fair_share, probe_order, surplus, wanted
from producers.relay.outcome import Delivery, RowResult, settle
from producers.relay.store import decode_json

deliveries = st.sampled_from(list(Delivery))


@st.composite
def batches(draw: st.DrawFn) -> list[RowResult]:
    n = draw(st.integers(min_value=0, max_value=40))
    keys = draw(st.lists(st.sampled_from("abcd"), min_size=n, max_size=n))
    outcomes = draw(st.lists(deliveries, min_size=n, max_size=n))
    return [RowResult(i, k, d, None if d is Delivery.ACKED else "err")
            for i, (k, d) in enumerate(zip(keys, outcomes, strict=True))]


@given(batches())
def test_published_rows_of_a_key_are_a_gapless_prefix(results: list[RowResult]) -> None:
    outcome = settle(results)
    for key in "abcd":
        of_key = [r.row_id for r in results if r.key == key]
        published = [r.row_id for r in outcome.published if r.key == key]
        assert published == of_key[: len(published)]


@given(batches())
def test_every_row_is_settled_exactly_once(results: list[RowResult]) -> None:
    outcome = settle(results)
    settled = [r.row_id for r in outcome.published + outcome.parked + outcome.retry]
    assert sorted(settled) == [r.row_id for r in results]


@given(batches())
def test_at_most_one_parked_row_per_key_and_it_blocks_the_rest(results: list[RowResult]) -> None:
    outcome = settle(results)
    parked_keys = [r.key for r in outcome.parked]
    assert len(parked_keys) == len(set(parked_keys))
    for parked in outcome.parked:
        later = [r for r in results if r.key == parked.key and r.row_id > parked.row_id]
        assert all(r in outcome.retry for r in later)


def test_acked_row_behind_a_transient_failure_is_not_marked_published() -> None:
    results = [
        RowResult(1, "k", Delivery.ACKED),
        RowResult(2, "k", Delivery.TRANSIENT, "timeout"),
        RowResult(3, "k", Delivery.ACKED),
        RowResult(4, "other", Delivery.ACKED),
    ]
    outcome = settle(results)
    assert [r.row_id for r in outcome.published] == [1, 4]
    assert [r.row_id for r in outcome.retry] == [2, 3]
    assert outcome.transient_failures == 1


@given(st.integers(1, 256), st.integers(1, 20))
def test_fair_shares_cover_all_lanes(lanes: int, relays: int) -> None:
    share = fair_share(lanes, relays)
    assert share * relays >= lanes
    assert (share - 1) * relays < lanes


@given(st.sets(st.integers(0, 63)), st.integers(1, 64))
def test_surplus_and_wanted_reach_the_share(held: set[int], share: int) -> None:
    released = surplus(held, share)
    assert set(released) <= held
    remaining = len(held) - len(released)
    assert remaining == min(len(held), share)
    assert wanted(held - set(released), share) == share - remaining


def test_probe_order_visits_every_lane_once() -> None:
    assert sorted(probe_order(8, 5)) == list(range(8))
    assert probe_order(8, 5)[0] == 5


# --- fault isolation, settlement columns, health (issue #9) --------------------------------


def test_only_rows_the_broker_refused_are_re_sent_alone() -> None:
    from producers.relay.outcome import refused_rows

    results = [
        RowResult(1, "a", Delivery.PERMANENT, "kafka: Broker: Invalid timestamp", refused=True),
        RowResult(2, "b", Delivery.PERMANENT, "does not match schema"),  # our own verdict
        RowResult(3, "c", Delivery.TRANSIENT, "kafka: timed out"),
        RowResult(4, "d", Delivery.ACKED),
        RowResult(5, "e", Delivery.PERMANENT, "kafka: Broker: Invalid timestamp", refused=True),
    ]
    assert refused_rows(results) == {1, 5}


def test_settle_columns_leave_untried_rows_alone() -> None:
    from producers.relay.store import settle_rows

    outcome = settle([
        RowResult(1, "a", Delivery.ACKED, partition=2, offset=40),
        RowResult(2, "b", Delivery.PERMANENT, "bad"),
        RowResult(3, "b", Delivery.NOT_SENT),
        RowResult(4, "c", Delivery.TRANSIENT, "timeout"),
        RowResult(5, "d", Delivery.HELD, "unknown version", retry_after_s=30.0),
        RowResult(6, "d", Delivery.ACKED, partition=1, offset=7),  # behind the held row
    ])
    ids, states, partitions, offsets, errors, retries = settle_rows(outcome)
    assert ids == [1, 2, 5, 4]
    assert states == ["published", "parked", "parked", "pending"]
    assert partitions == [2, None, None, None] and offsets == [40, None, None, None]
    assert errors == [None, "bad", "unknown version", "timeout"]
    assert retries == [None, None, 30.0, None]  # only the held row comes back by itself


def test_held_rows_back_off_then_stay_parked() -> None:
    from producers.relay.outcome import held_retry_s

    assert [held_retry_s(a, 10.0, 12) for a in range(4)] == [10.0, 20.0, 40.0, 80.0]
    assert held_retry_s(9, 10.0, 12) == 320.0  # capped at 32 x the first delay
    assert held_retry_s(11, 10.0, 12) is None  # the 12th attempt failed: an operator decides
    assert held_retry_s(0, 10.0, 1) is None


def test_future_error_follows_the_broker_limit() -> None:
    from producers.relay.publisher import future_error

    now = 1_800_000_000_000
    assert future_error(now + 3_600_000, now, 3600) is None  # exactly at the limit: accepted
    message = future_error(now + 3_600_001, now, 3600)
    assert message is not None and "INVALID_TIMESTAMP" in message
    assert future_error(now - 10**9, now, 3600) is None  # the past is the broker's other knob
    assert future_error(now + 10**9, now, 0) is None  # 0 disables the pre-check


def test_health_needs_both_connections_and_a_turning_loop() -> None:
    from producers.relay.health import RelayHealth, assess

    healthy = RelayHealth(pg_connected=True, kafka_connected=True, lanes_held=0,
                          last_loop_at=100.0)
    ok, body = assess(healthy, now_monotonic=110.0, stale_after_s=60)
    assert ok and body["status"] == "ok" and body["lanes_held"] == 0
    assert not assess(healthy, now_monotonic=200.0, stale_after_s=60)[0]  # loop stuck
    no_pg = RelayHealth(pg_connected=False, kafka_connected=True, last_loop_at=100.0,
                        waiting_for="PostgreSQL")
    ok, body = assess(no_pg, 101.0, 60)
    assert not ok and body["waiting_for"] == "PostgreSQL"
    assert not assess(RelayHealth(pg_connected=True, last_loop_at=100.0), 101.0, 60)[0]
    assert not assess(RelayHealth(pg_connected=True, kafka_connected=True), 101.0, 60)[0]


@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
))
def test_decode_json_reads_what_postgresql_sends_as_json_loads_does(value: object) -> None:
    encoded = json.dumps(value, ensure_ascii=False)  # non-ASCII text arrives as UTF-8 bytes
    assert decode_json(encoded.encode()) == json.loads(encoded.encode())
    assert decode_json(encoded) == value
