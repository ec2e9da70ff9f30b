"""Prometheus metrics of one worker (own registry, so tests can run several in a process)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass
class StreamMetrics:
    app: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        labels = ["app", "topic"]
        self.processed = Counter(
            "nmc_streams_processed",
            "Events handled (outcome: applied|duplicate|ignored)",
            [*labels, "outcome"],
            registry=self.registry,
        )
        self.failed = Counter(
            "nmc_streams_failed", "Handler attempts that raised", labels, registry=self.registry
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
