"""Pure decisions of `nmc dlq` and `nmc worker rebuild`: selections, ages, replay order and
headers, rebuild names and lag, and which topics a run owns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nmc.contract.dead_letter import replay_topic
from nmc.demo.cleanup import run_topics
from nmc.dlq.model import (
    DeadLetter,
    DlqError,
    Selection,
    not_found,
    parse_age,
    replay_headers,
    replay_order,
)
from nmc_streams.rebuild import RebuildError, RebuildPlan, lag, new_stamp

NOW = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)


def letter(id_: int, key: str, occurred_at: str, offset: int = 0, **headers: str) -> DeadLetter:
    return DeadLetter(
        id=id_, group_id="nmc-streams-conversation", app="conversation",
        topic="nmc.conversation", partition=1, offset=offset, record_key=key,
        event_id=f"e{id_}", event_name="nmc.conversation.MessageReceived", tenant_id="t",
        error="permanent: x", attempts=1, created_at=NOW,
        headers={"event_id": f"e{id_}", "occurred_at": occurred_at, **headers},
        raw_value=b"\x00raw",
    )


@pytest.mark.parametrize(("text", "expected"), [
    ("90s", timedelta(seconds=90)), ("30m", timedelta(minutes=30)), ("2h", timedelta(hours=2)),
    ("7d", timedelta(days=7)), ("1w", timedelta(weeks=1)), ("1.5h", timedelta(minutes=90)),
])
def test_ages(text: str, expected: timedelta) -> None:
    assert parse_age(text) == expected


@pytest.mark.parametrize("text", ["", "2", "h", "2x", "-1h", "2 hours"])
def test_ages_that_are_refused_say_the_forms(text: str) -> None:
    with pytest.raises(DlqError, match="s, m, h, d or w"):
        parse_age(text)


def test_an_empty_selection_is_everything_and_not_narrowed() -> None:
    selection = Selection()
    assert not selection.narrowed and selection.where() == ("TRUE", {})


def test_a_selection_becomes_one_condition_with_parameters() -> None:
    selection = Selection(ids=(3, 4), group="g", older_than=timedelta(hours=2),
                          include_replayed=False)
    where, params = selection.where()
    assert selection.narrowed
    assert where.startswith("d.id = ANY(:ids) AND d.group_id = :group AND d.created_at < now()")
    assert "NOT EXISTS (SELECT 1 FROM dead_letter_replays" in where
    assert params == {"ids": [3, 4], "group": "g", "older": timedelta(hours=2)}


def test_replay_order_is_per_key_by_event_time_then_failed_position() -> None:
    letters = [
        letter(1, "t:b", "2026-11-28T00:00:03Z"),
        letter(2, "t:a", "2026-11-28T00:00:02Z", offset=9),
        letter(3, "t:a", "2026-11-28T00:00:01Z", offset=10),
        letter(4, "t:a", "2026-11-28T00:00:02Z", offset=5),
        letter(5, "t:b", "2026-11-28T00:00:01Z"),
    ]
    order = [(d.record_key, d.id) for d in replay_order(letters)]
    assert order == [("t:a", 3), ("t:a", 4), ("t:a", 2), ("t:b", 5), ("t:b", 1)]


def test_replay_headers_keep_the_originals_drop_dlq_ones_and_name_origin_and_operator() -> None:
    again = letter(8, "t:a", "2026-11-28T00:00:01Z", dlq_error="boom", dlq_attempts="1",
                   dlq_group="g", dlq_source="x:0:1", nmc_replay_of="2",
                   nmc_replayed_by="alice")
    headers = dict(replay_headers(again, "bob"))
    assert headers == {"event_id": b"e8", "occurred_at": b"2026-11-28T00:00:01Z",
                       "nmc_replay_of": b"8", "nmc_replayed_by": b"bob"}
    assert again.replay_of == 2 and again.source == "nmc.conversation:1:0"


def test_ids_not_found_are_named_in_the_order_asked() -> None:
    assert not_found([5, 1, 9], [1, 2]) == [5, 9]
    assert not_found([], [1]) == []


def test_a_rebuild_has_its_own_group_schema_and_retired_schema() -> None:
    stamp = new_stamp(NOW)
    plan = RebuildPlan.of("reporting", "nmc-streams-reporting", stamp)
    assert stamp == "20261128010000"
    assert plan.group == "nmc-streams-reporting-rebuild-20261128010000"
    assert plan.schema == "nmc_rebuild_reporting_20261128010000"
    assert plan.retired == "nmc_retired_reporting_20261128010000"
    assert plan.tables == ("rpt_facts", "rpt_compliance", "rpt_subscriptions",
                           "rpt_catalog_changes")
    with pytest.raises(RebuildError, match="unknown app 'billing'"):
        RebuildPlan.of("billing", "x", stamp)


def test_lag_counts_what_is_left_per_partition_never_below_zero() -> None:
    ends = {("a", 0): 10, ("a", 1): 5, ("b", 0): 0}
    assert lag({("a", 0): 4, ("a", 1): 7}, ends) == 6
    assert lag({}, ends) == 15
    assert lag({("a", 0): 10, ("a", 1): 5}, ends) == 0


def test_a_run_owns_its_replay_topics_and_no_one_elses() -> None:
    prefix = "nmc-demo-1a2b3c4d"
    topics = [replay_topic(f"{prefix}-conversation"), replay_topic("nmc-streams-conversation"),
              replay_topic(f"{prefix}x-conversation")]
    assert run_topics(topics, prefix) == [f"nmc.replay.{prefix}-conversation"]
