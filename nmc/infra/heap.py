"""How the platform's long-running processes (stream workers, read API, relay) use CPython's
garbage collector: start-up objects frozen out of every collection, and young collections
rarer than CPython's default.

Why: each of these processes imports ~10^5 long-lived objects (Faust, aiokafka, FastAPI,
pydantic, SQLAlchemy) and then allocates many short-lived containers per batch or request.
With the default young threshold (700 allocations) those allocations trigger full collections
that re-scan every long-lived object: a quarter of a stream batch's time, and the read API's
p99 (a full collection pauses every request in flight). Reference counting still frees almost
all of that garbage at once; only cycles wait, and they are still collected, just later.
"""

from __future__ import annotations

import gc


def settle_heap(gen0_threshold: int = 0) -> None:
    """Freeze what is alive now out of future collections; with `gen0_threshold` > 0, also
    collect the young generation only every that many allocations (0 keeps the default)."""
    gc.collect()
    gc.freeze()
    if gen0_threshold:
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(gen0_threshold, gen1, gen2)
