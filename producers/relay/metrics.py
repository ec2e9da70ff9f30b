"""Prometheus metrics of the relay."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class RelayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.published = Counter(
            "nmc_relay_published",
            "Events acknowledged by Kafka and marked published.",
            ["topic"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "nmc_relay_publish_latency_seconds",
            "Outbox insert to Kafka acknowledgement.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.oldest_unpublished = Gauge(
            "nmc_relay_oldest_unpublished_age_seconds",
            "Age of the oldest pending outbox row.",
            registry=self.registry,
        )
        self.pending = Gauge(
            "nmc_relay_pending_rows", "Pending outbox rows.", registry=self.registry
        )
        self.parked = Gauge(
            "nmc_relay_parked_rows",
            "Rows parked after a permanent error (need an operator).",
            registry=self.registry,
        )
        self.errors = Counter(
            "nmc_relay_errors",
            "Publish failures by kind (transient, permanent, postgres).",
            ["kind"],
            registry=self.registry,
        )
        for kind in ("transient", "permanent", "postgres"):
            self.errors.labels(kind)  # every series exists from the start (rate() needs it)
        self.encoded = Counter(
            "nmc_relay_encoded",
            "Rows the relay Avro-encoded itself with their own version's schema (no stored "
            "value, or one framed with an id that is not their version's).",
            registry=self.registry,
        )
        self.unknown_version = Counter(
            "nmc_relay_unknown_version",
            "Rows held back (parked, retried later) because no schema of their schema_version "
            "was found in the relay's files or the registry.",
            ["event_name", "schema_version"],
            registry=self.registry,
        )
        self.held = Gauge(
            "nmc_relay_held_rows",
            "Parked rows the relay will retry by itself (unknown schema version).",
            registry=self.registry,
        )
        self.lanes_held = Gauge(
            "nmc_relay_lanes_held", "Outbox lanes leased by this relay.", registry=self.registry
        )
