"""Per-key send pacing (pure, unit-tested): at most `rate` sends a second per sending number
(or campaign), as evenly spaced reservations, so a burst never exceeds the provider's limit."""

from __future__ import annotations

import threading
from collections.abc import Iterable


class Pacer:
    """Reservations spaced `1 / rate` seconds apart per key; `rate` 0 means unlimited.

    The dispatcher only claims a text whose keys are free now (`busy` lists the others), then
    `reserve`s its slot; the worker waits until the slot's time, then passes the send-time
    gate (`wait_for` / `sent`): a worker woken late by a busy machine must not send closer
    than `1 / rate` after the previous send of its key, or a window would hold too many.
    """

    def __init__(self, rate: float) -> None:
        self._gap = 0.0 if rate <= 0 else 1.0 / rate
        self._next: dict[str, float] = {}
        self._last_sent: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait_for(self, key: str, now: float) -> float:
        """Seconds until `key` may send again (0: now), measured from its last real send."""
        if not self._gap:
            return 0.0
        with self._lock:
            last = self._last_sent.get(key)
        return 0.0 if last is None else max(0.0, last + self._gap - now)

    def sent(self, key: str, now: float) -> None:
        """Record a send of `key` at `now` (the gate's reference)."""
        if self._gap:
            with self._lock:
                self._last_sent[key] = now
                if len(self._last_sent) > 10_000:  # forget keys idle for over a gap
                    for k in [k for k, t in self._last_sent.items() if t + self._gap < now]:
                        del self._last_sent[k]

    def reserve(self, key: str, now: float) -> float:
        """Book the key's next slot; returns when the send may go (>= now)."""
        if not self._gap:
            return now
        with self._lock:
            at = max(now, self._next.get(key, now))
            self._next[key] = at + self._gap
            return at

    def busy(self, now: float) -> list[str]:
        """Keys whose next slot lies in the future (not to be claimed for now)."""
        with self._lock:
            for key in [k for k, at in self._next.items() if at <= now]:
                del self._next[key]  # forgotten once free: the dict stays small
            return sorted(self._next)

    def next_free(self, keys: Iterable[str]) -> float | None:
        """The earliest time one of `keys` becomes free (None when none is booked)."""
        with self._lock:
            times = [self._next[k] for k in keys if k in self._next]
        return min(times) if times else None
