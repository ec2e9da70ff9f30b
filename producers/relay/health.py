"""What `/healthz` says about a relay (pure): connected to PostgreSQL and Kafka, lanes held,
last successful batch, and whether the loop still turns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class RelayHealth:
    """Mutable state the relay loop updates; read by the HTTP thread (plain attribute writes)."""

    pg_connected: bool = False
    kafka_connected: bool = False
    lanes_held: int = 0
    last_batch_at: float | None = None  # wall clock of the last batch Kafka acknowledged
    last_loop_at: float | None = None  # monotonic clock of the last loop iteration
    waiting_for: str | None = None  # what the relay is backing off for, if anything


def assess(
    health: RelayHealth, now_monotonic: float, stale_after_s: float
) -> tuple[bool, dict[str, Any]]:
    """(healthy, JSON body). Healthy = both connections up and the loop turned recently.

    Holding no lane is healthy: with more relays than lanes a relay is a warm standby.
    """
    loop_age = None if health.last_loop_at is None else now_monotonic - health.last_loop_at
    loop_alive = loop_age is not None and loop_age <= stale_after_s
    healthy = health.pg_connected and health.kafka_connected and loop_alive
    body: dict[str, Any] = {
        "status": "ok" if healthy else "unavailable",
        "postgres_connected": health.pg_connected,
        "kafka_connected": health.kafka_connected,
        "lanes_held": health.lanes_held,
        "last_successful_batch_at": health.last_batch_at,
        "loop_age_s": None if loop_age is None else round(loop_age, 3),
        "waiting_for": health.waiting_for,
    }
    return healthy, body
