"""Prometheus metrics of one worker (own registry, so tests can run several in a process)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

TRANSIENT_STAGES = ("decode", "load", "write", "dead-letter")
"""What `nmc_streams.batch` retries through an outage (the `stage` label)."""
OUTCOMES = ("applied", "duplicate", "ignored", "dead-lettered")
"""What `nmc_streams.batch` did with an event (the `outcome` label)."""


@dataclass
class StreamMetrics:
    """Every series whose labels are known up front starts at 0 — events per source topic and
    outcome, batch histograms, stalls, transient failures per stage, dead letters (`topics`: the
    app's source topics): a series that first appears already counting (the first batch, the
    first failure) gives `rate()` and `increase()` nothing to compare it with."""

    app: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    topics: Sequence[str] = ()

    def __post_init__(self) -> None:
        labels = ["app", "topic"]
        self.processed = Counter(
            "nmc_streams_processed",
            f"Events handled (outcome: {'|'.join(OUTCOMES)})",
            [*labels, "outcome"],
            registry=self.registry,
        )
        self.transient = Counter(
            "nmc_streams_transient_failures",
            "Retried outages by stage (decode|load|write|dead-letter); the batch waits, nothing "
            "is dropped",
            ["app", "stage"],
            registry=self.registry,
        )
        self.batch_events = Histogram(
            "nmc_streams_batch_events",
            "Events per processed batch",
            ["app"],
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000),
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "nmc_streams_batch_seconds",
            "Time from a batch taken to its acknowledgement",
            ["app"],
            registry=self.registry,
        )
        self.stalls = Counter(
            "nmc_streams_stalls",
            "Times the watchdog found the worker behind with no batch for a whole interval",
            ["app"],
            registry=self.registry,
        )
        self.dead_lettered = Counter(
            "nmc_streams_dead_lettered",
            "Events sent to the dead-letter path",
            labels,
            registry=self.registry,
        )
        self.lag = Gauge(
            "nmc_streams_lag",
            "Records behind the partition high-water mark",
            [*labels, "partition"],
            registry=self.registry,
        )
        self.stalls.labels(self.app)
        self.batch_events.labels(self.app)
        self.batch_seconds.labels(self.app)
        for stage in TRANSIENT_STAGES:
            self.transient.labels(self.app, stage)
        for topic in self.topics:
            self.dead_lettered.labels(self.app, topic)
            for outcome in OUTCOMES:
                self.processed.labels(self.app, topic, outcome)
