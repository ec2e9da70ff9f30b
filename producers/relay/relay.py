"""`OutboxRelay`: the loop that moves committed outbox rows to Kafka.

One iteration: rebalance lane leases, fetch pending rows of the held lanes in id order,
publish, settle (mark published / park / leave for retry). Idle relays sleep on LISTEN with the
poll interval as a fallback; transient failures back off exponentially with full jitter.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import UTC, datetime

from tenacity import (
    RetryError,
    Retrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_when_event_set,
    wait_random_exponential,
)

from nmc.settings import Settings
from producers.outbox.table import OUTBOX_LANES as LANES
from producers.relay import leases
from producers.relay.metrics import RelayMetrics
from producers.relay.outcome import Delivery, settle
from producers.relay.publisher import KafkaPublisher, TransientPublishError
from producers.relay.store import OutboxStore

log = logging.getLogger(__name__)


def _interruptible_sleep(stop: threading.Event, seconds: float) -> None:
    stop.wait(seconds)


class OutboxRelay:
    def __init__(
        self,
        settings: Settings,
        store: OutboxStore,
        publisher: KafkaPublisher,
        metrics: RelayMetrics | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._publisher = publisher
        self.metrics = metrics or RelayMetrics()
        self._next_rebalance = 0.0
        self._next_cleanup = 0.0
        self._start_lane = os.getpid() % LANES

    def close(self) -> None:
        self._publisher.close()
        self._store.close()

    def rebalance(self) -> None:
        share = leases.fair_share(LANES, self._store.live_relays())
        give_back = leases.surplus(self._store.lanes, share)
        if give_back:
            self._store.release(give_back)
            log.info("released lanes %s (fair share %d)", give_back, share)
        need = leases.wanted(self._store.lanes, share)
        if need:
            got = self._store.try_lease(leases.probe_order(LANES, self._start_lane), need)
            if got:
                log.info(
                    "leased %d lanes (now %d, share %d)", len(got), len(self._store.lanes), share
                )
        self.metrics.lanes_held.set(len(self._store.lanes))

    def run_once(self) -> int:
        """Publish one batch; returns the number of rows fetched."""
        now = time.monotonic()
        if now >= self._next_rebalance:
            self.rebalance()
            self._next_rebalance = now + self._settings.nmc_relay_poll_interval_s
        rows = self._store.fetch_pending(self._settings.nmc_relay_batch_size)
        if not rows:
            return 0
        results = self._publisher.publish(rows)
        outcome = settle(results)
        self._store.mark_published(outcome.published)
        self._store.park(outcome.parked)
        self._store.note_failures(outcome.retry)
        acked_at = datetime.now(UTC)
        by_id = {r.id: r for r in rows}
        for result in outcome.published:
            row = by_id[result.row_id]
            self.metrics.published.labels(row.topic).inc()
            self.metrics.latency.observe((acked_at - row.created_at).total_seconds())
        for result in outcome.parked:
            self.metrics.errors.labels("permanent").inc()
            log.error("parked outbox row %d (key %s): %s", result.row_id, result.key, result.error)
        if outcome.transient_failures:
            self.metrics.errors.labels("transient").inc(outcome.transient_failures)
            first = next(r for r in outcome.retry if r.delivery is Delivery.TRANSIENT)
            raise TransientPublishError(
                f"{outcome.transient_failures} rows not acknowledged: {first.error}"
            )
        return len(rows)

    def housekeeping(self) -> None:
        if time.monotonic() < self._next_cleanup:
            return
        self._next_cleanup = time.monotonic() + self._settings.nmc_relay_cleanup_interval_s
        deleted = self._store.delete_published_before(self._settings.nmc_relay_retention_s)
        if deleted:
            log.info("retention: deleted %d published rows", deleted)
        pending, age, parked = self._store.backlog()
        self.metrics.pending.set(pending)
        self.metrics.oldest_unpublished.set(age)
        self.metrics.parked.set(parked)

    def run(self, stop: threading.Event) -> None:
        """Relay until `stop` is set."""
        self._store.join()
        retrying = Retrying(
            retry=retry_if_exception_type(TransientPublishError),
            wait=wait_random_exponential(
                multiplier=0.2, max=self._settings.nmc_relay_max_backoff_s
            ),
            stop=stop_when_event_set(stop),
            sleep=lambda seconds: _interruptible_sleep(stop, seconds),
            before_sleep=before_sleep_log(log, logging.WARNING),
            reraise=False,
        )
        while not stop.is_set():
            handled = 0
            try:
                for attempt in retrying:
                    with attempt:
                        handled = self.run_once()
            except RetryError:
                break  # stop was requested while backing off
            self.housekeeping()
            if handled < self._settings.nmc_relay_batch_size and not stop.is_set():
                self._store.wait_for_notify(self._settings.nmc_relay_poll_interval_s)
