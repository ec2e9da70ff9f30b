"""The sender's pure parts: per-number pacing and the 429 / 20429 classification."""

from __future__ import annotations

import itertools

from producers.sender.pacing import Pacer
from producers.sender.state import classify_error


def test_reservations_are_spaced_by_the_rate() -> None:
    pacer = Pacer(5.0)
    slots = [pacer.reserve("+1310", 100.0) for _ in range(4)]
    assert slots[0] == 100.0
    assert all(abs(b - a - 0.2) < 1e-9 for a, b in itertools.pairwise(slots))
    assert pacer.reserve("+1311", 100.0) == 100.0  # another number is not affected


def test_busy_lists_numbers_booked_ahead_and_forgets_free_ones() -> None:
    pacer = Pacer(2.0)
    pacer.reserve("a", 10.0)
    assert pacer.busy(10.1) == ["a"]
    assert pacer.next_free(["a"]) == 10.5
    assert pacer.busy(10.5) == []
    assert pacer.next_free(["a"]) is None


def test_rate_zero_is_unlimited() -> None:
    pacer = Pacer(0)
    assert [pacer.reserve("a", 1.0) for _ in range(3)] == [1.0, 1.0, 1.0]
    assert pacer.busy(1.0) == []


def test_throttling_is_a_retryable_refusal() -> None:
    assert classify_error(429, 20429, "Too Many Requests").throttled
    assert classify_error(400, 20429, "Too Many Requests").throttled
    assert not classify_error(400, 21211, "bad to").throttled
    assert not classify_error(None, None, "timeout").throttled
    assert classify_error(None, None, "timeout").status == "unknown"


def test_the_send_time_gate_spaces_real_sends_whatever_the_slots_said() -> None:
    pacer = Pacer(5.0)
    assert pacer.wait_for("a", 10.0) == 0.0
    pacer.sent("a", 10.19)  # its slot was 10.0, the worker woke late
    assert abs(pacer.wait_for("a", 10.2) - 0.19) < 1e-9  # the 10.2 slot must wait for 10.39
    assert pacer.wait_for("a", 10.39) == 0.0
    assert pacer.wait_for("b", 10.2) == 0.0
    assert Pacer(0).wait_for("a", 1.0) == 0.0
