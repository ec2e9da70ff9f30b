"""`nmc schemas retire`'s rule (pure): a major is retired only once every group reading the
topic committed past its last record on every partition, nothing of it waits in the outbox,
and a newer major exists."""

from __future__ import annotations

import json

import pytest

from nmc.schema_gate.retire import decide, is_major, retired_setting

EVENT = "nmc.telephony.CallDetected"
LAST = {0: 41, 2: 7}  # partition 1 holds no v1 record: nothing to wait for there


def test_groups_past_every_last_record_allow_it() -> None:
    decision = decide(LAST, {"a": {0: 42, 1: None, 2: 8}, "b": {0: 100, 2: 100}})
    assert decision.allowed and decision.reasons(EVENT, 1, "nmc.telephony") == []


@pytest.mark.parametrize(("committed", "behind"), [
    ({0: 41, 2: 8}, 1),          # committed *at* the last record: it is still to be read
    ({0: 30, 2: 8}, 12),
    ({2: 8}, 42),                # nothing committed on partition 0
    ({0: None, 2: 8}, 42),
    ({0: 42, 2: 0}, 8),          # an offset of 0 is a position, not "nothing"
])
def test_a_lagging_group_refuses_and_is_named_with_its_lag(
        committed: dict[int, int | None], behind: int) -> None:
    decision = decide(LAST, {"ok": {0: 42, 2: 8}, "slow-team": committed})
    assert not decision.allowed
    assert {lag.group for lag in decision.lagging} == {"slow-team"}
    assert sum(lag.behind for lag in decision.lagging) == behind
    (reason,) = decision.reasons(EVENT, 1, "nmc.telephony")
    assert reason.startswith(f"group slow-team is {behind} records behind the last v1 {EVENT}")


def test_unpublished_rows_and_no_newer_major_refuse() -> None:
    decision = decide(LAST, {}, unpublished=3, newer_registered=False)
    assert not decision.allowed
    reasons = " ".join(decision.reasons(EVENT, 1, "nmc.telephony"))
    assert "3 outbox rows" in reasons and "no major above 1" in reasons


def test_no_record_of_the_major_needs_no_group() -> None:
    assert decide({}, {"never-caught-up": {0: None}}).allowed


def test_records_are_recognised_by_their_headers() -> None:
    assert is_major({"event_name": EVENT, "schema_version": "1.3.0"}, EVENT, 1)
    assert not is_major({"event_name": EVENT, "schema_version": "2.0.0"}, EVENT, 1)
    assert not is_major({"event_name": "nmc.telephony.Other", "schema_version": "1.0.0"},
                        EVENT, 1)
    assert not is_major({}, EVENT, 1)


def test_the_setting_to_deploy_keeps_what_was_retired_before() -> None:
    value = json.loads(retired_setting({"nmc.billing.X": [1]}, EVENT, 1))
    assert value == {"nmc.billing.X": [1], EVENT: [1]}
    assert json.loads(retired_setting({EVENT: [1]}, EVENT, 2)) == {EVENT: [1, 2]}
