"""Exponential backoff with full jitter (pure; the caller sleeps)."""

from __future__ import annotations

import random


def full_jitter(
    attempt: int, base_s: float, cap_s: float, rng: random.Random | None = None
) -> float:
    """Delay before retry `attempt` (1-based): uniform in [0, min(cap, base * 2**(attempt-1))].

    Full jitter spreads retries of many workers hitting the same outage (AWS architecture
    blog, "Exponential Backoff And Jitter"); the ceiling keeps a poison event from stalling a
    partition for long before it is dead-lettered.
    """
    ceiling = min(cap_s, base_s * (2 ** max(attempt - 1, 0)))
    return (rng or random).uniform(0.0, ceiling)
