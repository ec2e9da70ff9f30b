"""The sender's Prometheus metrics (`nmc sender run`, port `NMC_EDGE_SENDER_METRICS_PORT`).

Names are the contract with deploy/prometheus/rules (NmcSenderFailing, NmcSenderUnknownTexts,
NmcTextbackLatencyHigh). The text-back latency runs from the missed call's arrival at the edge
(`calls.received_at` of the conversation) to Twilio's answer, so it includes the relay and the
reactor, not only the sender; texts that answer no call count only in the queued histogram.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram

# text-back objective is seconds: buckets from the idle path (tens of ms) to a backlog (minutes)
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


@dataclass
class SenderMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.texts = Counter(
            "nmc_sender_texts", "Texts settled, by outcome (sent / failed / unknown).",
            ["outcome"], registry=self.registry,
        )
        self.throttled = Counter(
            "nmc_sender_throttled", "Twilio answers 429 / 20429 (retried with backoff).",
            registry=self.registry,
        )
        self.textback = Histogram(
            "nmc_textback_latency_seconds",
            "Missed call received at the edge -> text handed to Twilio (auto-replies).",
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.queued = Histogram(
            "nmc_sender_queued_to_sent_seconds", "Text queued -> handed to Twilio.",
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        for outcome in ("sent", "failed", "unknown"):
            self.texts.labels(outcome)  # every series exists from the start (rate() needs it)
