"""`OutboxRelay`: the loop that moves committed outbox rows to Kafka.

One iteration: rebalance lane leases, fetch pending rows of the held lanes in id order, check
that the session still holds those lanes, publish, settle the batch in one statement (published
/ parked / left for retry). No trigger notifies on outbox writes (that would serialize every
writer's commit cluster-wide): the relay polls adaptively (`polling.next_wait`), and still
LISTENs while it sleeps so an operator's `nmc outbox retry` wakes it at once.

The relay is a daemon: losing PostgreSQL (restart, failover, `pg_terminate_backend`) makes it
reconnect with exponential backoff and full jitter, join again and lease lanes from scratch —
its old leases died with its session. Kafka or registry outages back off the same way.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import suppress
from typing import Any

from tenacity import RetryError

from producers.outbox.table import OUTBOX_LANES as LANES
from producers.relay import leases
from producers.relay.backoff import retrying, until_done
from producers.relay.health import RelayHealth
from producers.relay.metrics import RelayMetrics
from producers.relay.outcome import BatchOutcome, Delivery, settle
from producers.relay.polling import next_wait
from producers.relay.ports import (
    OutboxRow,
    Publisher,
    RelayStore,
    StoreUnavailable,
    TransientPublishError,
)
from producers.relay.settings import RelaySettings

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(
        self,
        settings: RelaySettings,
        store: RelayStore,
        publisher: Publisher[Any],
        metrics: RelayMetrics | None = None,
        health: RelayHealth | None = None,
        settler: RelayStore | None = None,
    ) -> None:
        """`store` and `publisher` are ports (ports.py): PostgreSQL and Kafka in `nmc relay`,
        in memory in unit tests. `settler`, a second session, settles a batch while the next
        one is produced; without it batches are settled on `store`, in line."""
        self._settings = settings
        self._store = store
        self._settler = settler
        self._executor = (
            ThreadPoolExecutor(1, thread_name_prefix="relay-settle") if settler else None
        )
        self._settling: Future[None] | None = None
        # The batch being settled: its row ids and the keys held back in it. The next fetch,
        # which runs while it is settled, leaves these rows out and drops rows of these keys.
        self._settling_ids: list[int] = []
        self._settling_held: set[str] = set()
        # With a settler, the next batch is fetched on `store` in this thread while the
        # current one is encoded and produced (the main thread does not touch `store` then).
        self._fetcher = (
            ThreadPoolExecutor(1, thread_name_prefix="relay-fetch") if settler else None
        )
        self._publisher = publisher
        self.metrics = metrics or RelayMetrics()
        self.health = health or RelayHealth()
        self._next_rebalance = 0.0
        self._next_cleanup = 0.0
        self._start_lane = os.getpid() % LANES
        self._prefetched: list[OutboxRow] = []
        self._encoded_seen = 0

    def close(self) -> None:
        with suppress(StoreUnavailable):
            self._settled()
        self._publisher.close()
        self._store.close()
        if self._executor is not None and self._settler is not None:
            self._executor.shutdown()
            self._settler.close()
        if self._fetcher is not None:
            self._fetcher.shutdown()

    def _settle(self, outcome: BatchOutcome) -> None:
        """Record a batch's outcome: in the background when there is a settler session."""
        if self._executor is None or self._settler is None:
            self._store.settle(outcome)
            return
        self._settling = self._executor.submit(self._settler.settle, outcome)

    def _settled(self) -> None:
        """Wait for the batch being settled (a fetch must not see its rows as pending)."""
        settling, self._settling = self._settling, None
        if settling is not None:
            settling.result()

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
        self.health.lanes_held = len(self._store.lanes)

    def run_once(self) -> int:
        """Publish one batch; returns the number of rows handled.

        While Kafka acknowledges a full batch, the next one is fetched (leaving the in-flight
        rows out); once this batch is settled, rows of keys that failed in it and rows of
        lanes no longer held are dropped from that prefetch, so order is kept per key.
        """
        now = time.monotonic()
        self.health.last_loop_at = now
        if now >= self._next_rebalance:
            self.rebalance()
            self._next_rebalance = now + self._settings.nmc_relay_poll_interval_s
        batch_size = self._settings.nmc_relay_batch_size
        rows, self._prefetched = self._prefetched, []
        rows = [r for r in rows if r.lane in self._store.lanes]
        if not rows:
            self._settled()
            rows = self._store.fetch_pending(batch_size)
        if not rows:
            return 0
        # Stored values framed with an id not of their row's version are encoded from the payload.
        self._store.load_payloads(self._publisher.stale_without_payload(rows))
        # Never publish a lane this session does not hold any more (LeaseLost otherwise).
        self._store.verify_leases({r.lane for r in rows})
        fetching: Future[list[OutboxRow]] | None = None
        settling_held: set[str] = set()
        if len(rows) == batch_size and self._fetcher is not None:
            # Fetched while this batch is produced and the previous one settled: leave out
            # the rows of both (the previous batch's may still look pending), and below drop
            # rows of keys held back in either (a row parked there is not yet visible to the
            # fetch's parked-key check).
            exclude = [r.id for r in rows]
            if self._settling is not None:
                exclude += self._settling_ids
                settling_held = self._settling_held
            fetching = self._fetcher.submit(self._store.fetch_pending, batch_size, exclude)
        try:
            in_flight = self._publisher.start(rows)
            self._settled()  # the previous batch, settled while this one was produced
        finally:
            if fetching is not None:
                wait([fetching])  # never leave it running on `store` when leaving this call
        prefetched: list[OutboxRow] = []
        if fetching is not None:
            prefetched = [r for r in fetching.result() if r.record_key not in settling_held]
        elif len(rows) == batch_size:
            prefetched = self._store.fetch_pending(batch_size, [r.id for r in rows])
        results = self._publisher.finish(in_flight)
        outcome = settle(results)
        held_back = {r.key for r in outcome.parked} | {r.key for r in outcome.retry}
        self._settling_ids, self._settling_held = [r.id for r in rows], held_back
        self._settle(outcome)
        self.health.kafka_connected = self._publisher.link.connected
        self._prefetched = [r for r in prefetched if r.record_key not in held_back]
        if not self._prefetched:
            self._settled()  # the next round fetches afresh: its rows must be settled first
        self._observe(rows, outcome)
        if outcome.transient_failures:
            self._prefetched = []
            self._settled()
            self.metrics.errors.labels("transient").inc(outcome.transient_failures)
            first = next(r for r in outcome.retry if r.delivery is Delivery.TRANSIENT)
            raise TransientPublishError(
                f"{outcome.transient_failures} rows not acknowledged: {first.error}"
            )
        return len(rows)

    def _observe(self, rows: Sequence[OutboxRow], outcome: BatchOutcome) -> None:
        encoded = self._publisher.encoded
        if encoded != self._encoded_seen:
            self.metrics.encoded.inc(encoded - self._encoded_seen)
            self._encoded_seen = encoded
        if outcome.published:
            acked_at = self.health.last_batch_at = time.time()
            by_id = {r.id: r for r in rows}
            per_topic: Counter[str] = Counter()
            observe = self.metrics.latency.observe
            for result in outcome.published:
                row = by_id[result.row_id]
                per_topic[row.topic] += 1
                observe(acked_at - row.created_epoch_s)
            for topic, n in per_topic.items():
                self.metrics.published.labels(topic).inc(n)
        held = {r.row_id for r in outcome.parked if r.delivery is Delivery.HELD}
        held_rows = {r.id: r for r in rows if r.id in held} if held else {}
        for result in outcome.parked:
            if result.delivery is Delivery.HELD:
                row = held_rows[result.row_id]
                self.metrics.unknown_version.labels(row.event_name, row.schema_version).inc()
                log.warning("held outbox row %d (key %s), retried in %.0fs: %s", result.row_id,
                            result.key, result.retry_after_s or 0, result.error)
                continue
            self.metrics.errors.labels("permanent").inc()
            log.error("parked outbox row %d (key %s): %s", result.row_id, result.key, result.error)

    def housekeeping(self) -> None:
        if time.monotonic() < self._next_cleanup:
            return
        self._next_cleanup = time.monotonic() + self._settings.nmc_relay_cleanup_interval_s
        deleted = self._store.delete_published_before(self._settings.nmc_relay_retention_s)
        if deleted:
            log.info("retention: deleted %d published rows", deleted)
        requeued = self._store.requeue_due()
        if requeued:
            log.info("put %d held rows back in line (their retry time came): %s",
                     len(requeued), requeued[:20])
        pending, age, parked, held = self._store.backlog()
        self.metrics.pending.set(pending)
        self.metrics.oldest_unpublished.set(age)
        self.metrics.parked.set(parked)
        self.metrics.held.set(held)
        self.health.kafka_connected = self._publisher.probe(5.0)

    # --- the daemon loop --------------------------------------------------------------------
    def _waiting(self, what: str) -> None:
        self.health.waiting_for = what
        self.health.last_loop_at = time.monotonic()  # backing off is the loop turning

    def _join(self, stop: threading.Event) -> bool:
        """Connect, announce ourselves and listen; backs off while PostgreSQL is away."""

        def attempt() -> None:
            self._store.reset()
            self._store.join()

        self.health.pg_connected = False
        ok, _ = until_done(
            stop, "PostgreSQL", attempt, (StoreUnavailable,),
            self._settings.nmc_relay_max_backoff_s, self._waiting,
        )
        if ok:
            self.health.pg_connected = True
            self.health.waiting_for = None
            self._next_rebalance = 0.0  # lease lanes again at once, from scratch
            log.info("connected to PostgreSQL (backend pid %s)", self._store.backend_pid)
        return ok

    def _lost_store(self, exc: StoreUnavailable) -> None:
        with suppress(StoreUnavailable):
            self._settled()
        self._store.reset()
        if self._settler is not None:
            self._settler.reset()
        self._prefetched = []
        self.health.pg_connected = False
        self.health.lanes_held = 0
        self.metrics.lanes_held.set(0)
        self.metrics.errors.labels("postgres").inc()
        log.warning("lost the PostgreSQL session and every lane lease with it: %s", exc)

    def run(self, stop: threading.Event) -> None:
        """Relay until `stop` is set, through PostgreSQL, Kafka and registry outages."""
        publishing = retrying(
            stop, "Kafka / the schema registry", (TransientPublishError,),
            self._settings.nmc_relay_max_backoff_s, self._waiting,
        )
        idle = 0.0
        while not stop.is_set():
            self.health.last_loop_at = time.monotonic()
            try:
                if not self._store.joined and not self._join(stop):
                    break
                try:
                    handled = publishing(self.run_once)
                except RetryError:
                    break  # stop was requested while backing off
                self.health.waiting_for = None
                self.housekeeping()
                idle = next_wait(handled, self._settings.nmc_relay_batch_size, idle,
                                 self._settings.nmc_relay_idle_poll_min_s,
                                 self._settings.nmc_relay_idle_poll_max_s)
                if idle and not stop.is_set():
                    self._store.wait_for_notify(idle)
            except StoreUnavailable as exc:
                self._lost_store(exc)
