"""Lane leasing decisions (pure): how many lanes a relay should hold and which to give back.

Each relay holds a fair share of the outbox lanes, ``ceil(lanes / live relays)``; a relay holding
more gives the surplus back between batches, so a newcomer picks it up.
"""

from __future__ import annotations

import math
from collections.abc import Set


def fair_share(lanes: int, relays: int) -> int:
    return math.ceil(lanes / max(relays, 1))


def surplus(held: Set[int], share: int) -> list[int]:
    """Lanes to release, highest first, so the lowest stay put (less churn)."""
    extra = len(held) - share
    return sorted(held, reverse=True)[:extra] if extra > 0 else []


def wanted(held: Set[int], share: int) -> int:
    return max(share - len(held), 0)


def probe_order(lanes: int, start: int) -> list[int]:
    """Lanes in the order a relay tries to lease them; relays start at different offsets."""
    return [(start + i) % lanes for i in range(lanes)]
