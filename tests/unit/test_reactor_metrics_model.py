"""The reactor's lag gauge from librdkafka statistics (pure: a statistics document in, lags
out; no consumer) and its auto-reply decision counter (actions in, counts out)."""

from __future__ import annotations

import json
import uuid

from producers.conversation.reactions.decide import (
    QueueAutoReply,
    RecordInbound,
    StartConversation,
    SuppressAutoReply,
)
from producers.conversation.reactions.metrics import ReactorMetrics, partition_lags


def _part(assigned: bool, lag: int, stored: int) -> dict[str, object]:
    return {"desired": assigned, "consumer_lag": lag, "consumer_lag_stored": stored}


STATS = {"topics": {
    "nmc.telephony": {"partitions": {
        "-1": _part(False, -1, -1),  # librdkafka's internal UA partition
        "0": _part(True, 40, 7),  # stored offset ahead of the last commit: stored wins
        "1": _part(True, 12, -1),  # not consumed since assigned: committed offset
        "2": _part(False, 99, 99),  # not ours (assigned to another reactor)
        "3": _part(True, -1, -1),  # not known yet: no series rather than a guess
    }},
    "nmc.conversation": {"partitions": {"0": _part(True, 5, 0)}},
}}


def test_lag_is_high_watermark_minus_stored_else_committed_offset_of_assigned_partitions(
) -> None:
    assert partition_lags(STATS) == {("nmc.telephony", 0): 7, ("nmc.telephony", 1): 12,
                                     ("nmc.conversation", 0): 0}


def test_stats_set_the_gauge_and_a_revoked_partition_loses_its_series() -> None:
    metrics = ReactorMetrics()
    metrics.on_stats(json.dumps(STATS))

    def lag(topic: str, partition: str) -> float | None:
        return metrics.registry.get_sample_value(
            "nmc_reactor_lag_records", {"topic": topic, "partition": partition})

    assert lag("nmc.telephony", "0") == 7
    metrics.on_stats(json.dumps({"topics": {"nmc.conversation": STATS["topics"][
        "nmc.conversation"]}}))
    assert lag("nmc.telephony", "0") is None
    assert lag("nmc.conversation", "0") == 0


def test_every_outcome_series_exists_before_the_first_fact() -> None:
    metrics = ReactorMetrics()
    assert metrics.handled() == 0
    metrics.facts.labels("applied").inc(3)
    metrics.facts.labels("dead-lettered").inc()
    assert metrics.handled() == 4


def test_auto_reply_decisions_are_counted_by_decision_from_zero() -> None:
    metrics = ReactorMetrics()

    def decided(decision: str) -> float | None:
        return metrics.registry.get_sample_value(
            "nmc_reactor_auto_replies_total", {"decision": decision})

    assert (decided("queued"), decided("suppressed")) == (0, 0)  # series from the start
    metrics.decided([StartConversation(uuid.uuid4(), "+13105550100"),
                     QueueAutoReply(uuid.uuid4(), "+13105550100", "+14155550123")])
    metrics.decided([SuppressAutoReply("a human took the conversation over")])
    metrics.decided([RecordInbound(uuid.uuid4(), uuid.uuid4())])  # no decision
    metrics.decided([])  # a fact delivered again
    assert (decided("queued"), decided("suppressed")) == (1, 1)
