"""The reactor's Prometheus metrics (`nmc reactor`, port `NMC_REACTIONS_METRICS_PORT`).

Names are the contract with deploy/prometheus/rules (NmcReactorLagging, NmcDeadLettersArriving,
NmcTargetDown on job "reactor"); base units, counters end in `_total`.

Lag comes from librdkafka's own statistics (`statistics.interval.ms`, delivered through the
consumer's `stats_cb` on the polling thread), so it costs the consumer loop no broker call:
per assigned partition, the high watermark (the last stable offset under read_committed)
minus the offset the reactor stored after its last commit, or minus the group's committed
offset for a partition it has not consumed from since it got it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from producers.conversation.reactions.decide import QueueAutoReply, SuppressAutoReply

OUTCOMES = ("applied", "ignored", "dead-lettered")
DECISIONS = ("queued", "suppressed")
# A batch takes ~10 ms idle (one fact) and ~0.2-0.5 s at 1,000 facts under load
# (docs/performance/reactor.json); retries with backoff run to tens of seconds.
BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class ReactorMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.facts = Counter(
            "nmc_reactor_facts", "Records handled, by outcome (applied / ignored / "
            "dead-lettered).", ["outcome"], registry=self.registry,
        )
        self.dead_lettered = Counter(
            "nmc_reactor_dead_lettered", "Facts sent to the dead-letter path.",
            registry=self.registry,
        )
        self.auto_replies = Counter(
            "nmc_reactor_auto_replies", "Auto-reply decisions on missed calls, counted once "
            "their transaction committed: queued (handed to the sender) or suppressed "
            "(messaging gate closed, a human took the conversation over).", ["decision"],
            registry=self.registry,
        )
        self.batches_replayed = Counter(
            "nmc_reactor_batches_replayed", "Batches whose transaction failed and that were "
            "replayed fact by fact.", registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "nmc_reactor_batch_seconds", "Batch taken from the consumer -> its offsets stored.",
            buckets=BATCH_BUCKETS, registry=self.registry,
        )
        self.lag = Gauge(
            "nmc_reactor_lag_records", "Records behind the partition's high watermark.",
            ["topic", "partition"], registry=self.registry,
        )
        for outcome in OUTCOMES:
            self.facts.labels(outcome)  # every series exists from the start (rate() needs it)
        for decision in DECISIONS:
            self.auto_replies.labels(decision)
        self.last_turn = time.monotonic()  # the consume loop's last turn (for /healthz)
        self.partitions: set[tuple[str, int]] = set()

    def handled(self) -> int:
        """Records handled so far, whatever their outcome (benchmarks, tests)."""
        return sum(int(self.registry.get_sample_value(
            "nmc_reactor_facts_total", {"outcome": o}) or 0) for o in OUTCOMES)

    def decided(self, actions: Iterable[object]) -> None:
        """Count the auto-reply decisions among a fact's committed actions (a fact delivered
        again decides nothing: the conversation's memory already holds its decision)."""
        for action in actions:
            if isinstance(action, QueueAutoReply):
                self.auto_replies.labels("queued").inc()
            elif isinstance(action, SuppressAutoReply):
                self.auto_replies.labels("suppressed").inc()

    def on_stats(self, stats_json: str) -> None:
        """librdkafka `stats_cb`: the lag gauge from the statistics of assigned partitions;
        a partition no longer assigned loses its series."""
        self.update_lag(partition_lags(json.loads(stats_json)))

    def update_lag(self, lags: dict[tuple[str, int], int]) -> None:
        for gone in self.partitions - lags.keys():
            self.lag.remove(gone[0], str(gone[1]))
        for (topic, partition), lag in lags.items():
            self.lag.labels(topic, str(partition)).set(lag)
        self.partitions = set(lags)


def partition_lags(stats: dict[str, Any]) -> dict[tuple[str, int], int]:
    """Records behind per assigned partition of a librdkafka statistics document (pure):
    `consumer_lag_stored` (high watermark - stored offset), else `consumer_lag` (- committed
    offset); partitions whose lag librdkafka does not know yet (-1) are left out."""
    lags = {}
    for topic, detail in stats.get("topics", {}).items():
        for key, part in detail.get("partitions", {}).items():
            if int(key) < 0 or not part.get("desired"):
                continue  # the internal UA partition, or one not assigned to this consumer
            lag = next((part[k] for k in ("consumer_lag_stored", "consumer_lag")
                        if part.get(k, -1) >= 0), None)
            if lag is not None:
                lags[(topic, int(key))] = int(lag)
    return lags
