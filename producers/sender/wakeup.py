"""Wake-ups of the sender: LISTEN on the channel `queue_outbound` notifies, with reconnects.

A notification is only a hint (lost while nobody listens): the sender still polls at its
fallback period, and every (re)connect wakes it once to catch what was queued meanwhile.
"""

from __future__ import annotations

import logging
import threading

import psycopg

log = logging.getLogger(__name__)


class WakeListener(threading.Thread):
    """Sets `wake` on every notification on `channel` until `stop` is set."""

    def __init__(self, dsn: str, channel: str, wake: threading.Event,
                 stop: threading.Event) -> None:
        super().__init__(name="sender-listen", daemon=True)
        self._dsn = dsn
        self._channel = channel
        self._wake = wake
        self._stop = stop
        self.listening = threading.Event()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True, connect_timeout=5,
                                     application_name="nmc-sender-listen") as conn:
                    conn.execute(f"LISTEN {self._channel}")
                    self.listening.set()
                    self._wake.set()
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=0.5, stop_after=1):
                            self._wake.set()
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning("sender wake-up listener lost PostgreSQL (polling meanwhile): %s",
                            exc)
                self._stop.wait(1.0)
