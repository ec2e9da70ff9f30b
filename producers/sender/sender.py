"""The SMS sender process: claim, call Twilio once, record the answer.

No double send: the claim (queued -> sending) commits *before* the API call, so after any
crash the row is `sending`, never `queued`, and is not picked again. Each sender holds a
session advisory lock named after its instance id while it runs; `reconcile` turns `sending`
rows whose claimer's lock is free (the claimer died: its connection, hence its lock, is gone)
into `unknown`. A live sender's in-flight rows are never touched, so several senders may run.

Speed: a NOTIFY from the transaction that queued a text wakes the dispatcher at once (the poll
is only a fallback); up to `sender_concurrency` texts are in flight on worker threads, each
with its own keep-alive HTTP session. Claims go round-robin across tenants (`sender_turns`:
the tenant claimed longest ago first), skip sending numbers and campaigns that are at their
rate (`Pacer`), and a 429 / 20429 (not accepted) is tried again with backoff.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy import Connection, Engine, func, select, text, update
from sqlalchemy.orm import Session
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_result,
    stop_after_attempt,
    wait_random_exponential,
)
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from nmc.infra import probe_http, tracing
from nmc.infra.db import psycopg_dsn
from producers.conversation.message_status import can_transition
from producers.conversation.outbound import SENDER_CHANNEL, delivery_event
from producers.outbox import OutboxWriter
from producers.sender.metrics import SenderMetrics
from producers.sender.pacing import Pacer
from producers.sender.settings import SenderSettings
from producers.sender.state import SendOutcome, classify_error
from producers.sender.wakeup import WakeListener
from producers.tables import calls, outbound_messages

log = logging.getLogger(__name__)

_LOCK = "SELECT pg_advisory_lock(hashtextextended('nmc-sender:' || :id, 0))"
_TRY_LOCK = "SELECT pg_try_advisory_xact_lock(hashtextextended('nmc-sender:' || :id, 0))"
# Tenants with a claimable text, the one whose turn is oldest first (round-robin).
_TURNS = text(
    """
    SELECT q.tenant_id FROM (
        SELECT DISTINCT tenant_id FROM outbound_messages
         WHERE status = 'queued' AND from_phone <> ALL(CAST(:numbers AS text[]))
           AND tenant_id <> ALL(CAST(:tenants AS uuid[]))) q
    LEFT JOIN sender_turns t USING (tenant_id)
    ORDER BY t.last_claimed_at NULLS FIRST, q.tenant_id
    LIMIT :limit
    """
)
_CLAIM = text(
    """
    UPDATE outbound_messages
       SET status = 'sending', claimed_by = :me, claimed_at = clock_timestamp(),
           attempts = attempts + 1, updated_at = clock_timestamp()
     WHERE message_id = (
           SELECT message_id FROM outbound_messages
            WHERE status = 'queued' AND tenant_id = :tenant
              AND from_phone <> ALL(CAST(:numbers AS text[]))
            ORDER BY created_at
            LIMIT 1
              FOR UPDATE SKIP LOCKED)
       AND status = 'queued'
    RETURNING message_id, tenant_id, to_phone, from_phone, body, traceparent
    """
)
_TURN_TAKEN = text(
    """
    INSERT INTO sender_turns (tenant_id, last_claimed_at) VALUES (:tenant, clock_timestamp())
    ON CONFLICT (tenant_id) DO UPDATE SET last_claimed_at = excluded.last_claimed_at
    """
)
_TURN_CANDIDATES = 8  # tenants tried per claim (the next ones when a tenant's rows are taken)
_TRACER = tracing.tracer("sender")


@dataclass(frozen=True)
class Claimed:
    message_id: UUID
    tenant_id: UUID
    to_phone: str
    from_phone: str
    body: str
    send_at: float = 0.0  # monotonic time of its paced slot (booked with the claim)
    traceparent: str | None = None  # the queuing reaction's trace context, continued here


def twilio_client(settings: SenderSettings) -> tuple[Client, TwilioHttpClient]:
    """A REST client pointed at `twilio_api_base` (the real API or a local fake)."""
    settings.require("twilio_account_sid", "sender_token")
    assert settings.twilio_account_sid and settings.sender_token
    http = TwilioHttpClient(timeout=settings.sender_http_timeout_s)
    client = Client(settings.twilio_account_sid, settings.sender_token.get_secret_value(),
                    http_client=http)
    client.api.base_url = settings.twilio_api_base
    return client, http


class SmsSender:
    """One sender instance. Use as a context manager (or `start()` / `close()`).

    `after_claim` runs after the claim committed and before the API call: the crash-injection
    point of the tests (and nothing else). `on_departure` is told each API call's time
    (`time.monotonic()`) as it passes the rate gate: what the pacing controls, which the tests
    check (arrivals at a fake Twilio add the machine's scheduling jitter). `writer` appends the
    DeliveryUpdated events: its root's, configured from `OutboxSettings` (`nmc sender run`
    builds it; default: a bare `OutboxWriter()`, the settings' defaults and no stored values,
    for tests).
    """

    def __init__(self, engine: Engine, settings: SenderSettings, *,
                 after_claim: Callable[[Claimed], None] | None = None,
                 on_departure: Callable[[Claimed, float], None] | None = None,
                 writer: OutboxWriter | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.writer = writer or OutboxWriter()
        self.instance_id = uuid.uuid4()
        self.after_claim = after_claim
        self.on_departure = on_departure
        self._local = threading.local()
        self._https: list[TwilioHttpClient] = []
        self._clients_lock = threading.Lock()
        self._lock_conn: Connection | None = None
        self._numbers = Pacer(settings.sender_number_rate_per_s)
        self._campaigns = Pacer(settings.sender_campaign_rate_per_s)
        self._gate = threading.Lock()
        self._wake = threading.Event()
        self.metrics = SenderMetrics()
        self.last_turn = time.monotonic()  # the dispatch loop's last turn (for /healthz)
        settings.require("twilio_account_sid", "sender_token")

    def _client(self) -> Client:
        """This thread's REST client: its own keep-alive session (requests' is not shared)."""
        client: Client | None = getattr(self._local, "client", None)
        if client is None:
            client, http = twilio_client(self.settings)
            self._local.client = client
            with self._clients_lock:
                self._https.append(http)
        return client

    def __enter__(self) -> SmsSender:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def start(self) -> None:
        """Take this instance's liveness lock, then reconcile what dead senders left."""
        self._lock_conn = self.engine.connect()
        # Detached: closing it really closes the session (and frees the lock) instead of
        # handing a lock-holding connection back to the pool.
        self._lock_conn.detach()
        self._lock_conn.execute(text(_LOCK), {"id": str(self.instance_id)})
        self._lock_conn.commit()
        found = self.reconcile()
        if found:
            log.warning("%d message(s) left 'sending' by a dead sender are now 'unknown'", found)

    def close(self) -> None:
        if self._lock_conn is not None:
            self._lock_conn.close()  # releases the liveness lock
            self._lock_conn = None
        with self._clients_lock:
            https, self._https = self._https, []
        for http in https:
            session = getattr(http, "session", None)
            if session is not None:
                session.close()

    def reconcile(self) -> int:
        """`sending` rows of senders that are gone become `unknown` (never `queued`)."""
        moved = 0
        with self.engine.begin() as conn:
            claimers = conn.execute(
                select(outbound_messages.c.claimed_by).distinct().where(
                    outbound_messages.c.status == "sending",
                    outbound_messages.c.claimed_by.is_not(None),
                    outbound_messages.c.claimed_by != self.instance_id)
            ).scalars().all()
            for claimer in claimers:
                if not conn.execute(text(_TRY_LOCK), {"id": str(claimer)}).scalar():
                    continue  # its sender is alive and may be waiting on the API
                moved += conn.execute(
                    update(outbound_messages)
                    .where(outbound_messages.c.status == "sending",
                           outbound_messages.c.claimed_by == claimer)
                    .values(status="unknown", updated_at=datetime.now(UTC))
                ).rowcount
        return moved

    def claim_next(self) -> Claimed | None:
        """Claim one queued text in its own committed transaction: of the tenant whose turn
        is oldest, from a number (and campaign) not at its rate, and book its send slot."""
        now = time.monotonic()
        numbers, tenants = self._numbers.busy(now), self._campaigns.busy(now)
        with self.engine.begin() as conn:
            turns = conn.execute(_TURNS, {"numbers": numbers, "tenants": tenants,
                                          "limit": _TURN_CANDIDATES}).scalars().all()
            for tenant in turns:
                row = conn.execute(_CLAIM, {"me": self.instance_id, "tenant": tenant,
                                            "numbers": numbers}).first()
                if row is not None:
                    conn.execute(_TURN_TAKEN, {"tenant": tenant})
                    break
            else:
                return None
        claimed = Claimed(row.message_id, row.tenant_id, row.to_phone, row.from_phone,
                          row.body, traceparent=row.traceparent)
        return replace(claimed, send_at=self._reserve(claimed, now))

    def _reserve(self, claimed: Claimed, now: float) -> float:
        """Book the text's slot at its number's and its campaign's rate; when it may go."""
        return max(self._numbers.reserve(claimed.from_phone, now),
                   self._campaigns.reserve(str(claimed.tenant_id), now))

    def _next_free(self) -> float | None:
        """When a number or campaign now at its rate is free again (for the idle wait)."""
        now = time.monotonic()
        times = [t for t in (self._numbers.next_free(self._numbers.busy(now)),
                             self._campaigns.next_free(self._campaigns.busy(now)))
                 if t is not None]
        return min(times) if times else None

    def call_api(self, claimed: Claimed) -> SendOutcome:
        """The one API call for this message; every failure is classified, none raised."""
        kwargs: dict[str, Any] = {"to": claimed.to_phone, "from_": claimed.from_phone,
                                  "body": claimed.body}
        if self.settings.public_base_url:
            kwargs["status_callback"] = (
                f"{self.settings.public_base_url}/twilio/messages/status?mid={claimed.message_id}"
            )
        try:
            message = self._client().messages.create(**kwargs)
        except TwilioRestException as exc:
            return classify_error(exc.status, exc.code, str(exc.msg))
        except Exception as exc:  # transport errors: the provider may have the message
            return classify_error(None, None, repr(exc))
        return SendOutcome("sent", message.sid)

    def settle(self, claimed: Claimed, outcome: SendOutcome) -> None:
        """Record the answer and its DeliveryUpdated in one transaction. A status callback
        that got there first (via `?mid=`) is kept: the status only moves forward."""
        now = datetime.now(UTC)
        with Session(self.engine) as session, session.begin():
            row = session.execute(
                select(outbound_messages)
                .where(outbound_messages.c.message_id == claimed.message_id)
                .with_for_update()
            ).one()
            values: dict[str, Any] = {"updated_at": now}
            if outcome.provider_sid and row.provider_sid is None:
                values["provider_sid"] = outcome.provider_sid
            advance = can_transition(row.status, outcome.status)
            if advance:
                values["status"] = outcome.status
                values["error_code"] = outcome.error_code
            session.execute(
                update(outbound_messages)
                .where(outbound_messages.c.message_id == claimed.message_id).values(**values)
            )
            if advance and outcome.status in ("sent", "failed"):
                self.writer.append(session, delivery_event(
                    tenant_id=row.tenant_id, correlation_id=row.correlation_id,
                    causation_id=row.queued_event_id, message_id=row.message_id,
                    status=outcome.status, provider_ref=outcome.provider_sid or "",
                    error_code=outcome.error_code, now=now))
            call_at = None
            if outcome.status == "sent":
                call_at = session.execute(
                    select(func.min(calls.c.received_at)).where(
                        calls.c.tenant_id == row.tenant_id,
                        calls.c.correlation_id == row.correlation_id)
                ).scalar()
        self.metrics.texts.labels(outcome.status).inc()
        if outcome.status == "sent":
            if row.created_at is not None:
                self.metrics.queued.observe((now - row.created_at).total_seconds())
            if call_at is not None:
                self.metrics.textback.observe((now - call_at).total_seconds())
        if outcome.status != "sent":
            log.warning("message %s: %s %s", claimed.message_id, outcome.status, outcome.detail)

    def deliver(self, claimed: Claimed) -> SendOutcome:
        """The API call at the text's paced slot, tried again (new slot, backoff) while
        Twilio answers 429 / 20429; the last answer once the tries are spent."""
        first = [claimed.send_at]  # the slot booked with the claim

        def paced_call() -> SendOutcome:
            at = first.pop() if first else self._reserve(claimed, time.monotonic())
            delay = at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._pass_gate(claimed)
            return self.call_api(claimed)

        def give_up(state: RetryCallState) -> SendOutcome:
            assert state.outcome is not None
            outcome: SendOutcome = state.outcome.result()
            return outcome

        retrying = Retrying(
            stop=stop_after_attempt(self.settings.sender_throttle_attempts),
            wait=wait_random_exponential(multiplier=0.2,
                                         max=self.settings.sender_throttle_backoff_max_s),
            retry=retry_if_result(self._throttled),
            retry_error_callback=give_up,
        )
        outcome: SendOutcome = retrying(paced_call)
        return outcome

    def _pass_gate(self, claimed: Claimed) -> None:
        """Wait until neither the number nor the campaign sent within its gap, then record the
        send in both (one lock: the two checks and records are one step)."""
        tenant = str(claimed.tenant_id)
        while True:
            with self._gate:
                now = time.monotonic()
                wait = max(self._numbers.wait_for(claimed.from_phone, now),
                           self._campaigns.wait_for(tenant, now))
                if wait <= 0:
                    self._numbers.sent(claimed.from_phone, now)
                    self._campaigns.sent(tenant, now)
                    if self.on_departure is not None:
                        self.on_departure(claimed, now)
                    return
            time.sleep(wait)

    def wake(self) -> None:
        """End the dispatcher's current wait now (a stop set meanwhile is then seen at once)."""
        self._wake.set()

    def _throttled(self, outcome: SendOutcome) -> bool:
        if outcome.throttled:
            self.metrics.throttled.inc()
        return outcome.throttled

    def process(self, claimed: Claimed) -> None:
        """After the claim: the crash-injection hook, the call(s), the answer recorded.

        Traced (`nmc.infra.tracing`), a text queued with a trace context is sent inside a
        `send sms` span, a child of the reaction's; its DeliveryUpdated carries that span."""
        if self.after_claim is not None:
            self.after_claim(claimed)
        parent = tracing.parent_from(claimed.traceparent) if tracing.enabled() else None
        if parent is None:
            self.settle(claimed, self.deliver(claimed))
            return
        with _TRACER.start_as_current_span(
                "send sms", context=parent, kind=SpanKind.CLIENT,
                attributes={"nmc.message_id": str(claimed.message_id)}) as span:
            outcome = self.deliver(claimed)
            span.set_attribute("nmc.send.outcome", outcome.status)
            if outcome.status != "sent":
                span.set_status(StatusCode.ERROR, outcome.detail or outcome.status)
            self.settle(claimed, outcome)

    def send_one(self) -> bool:
        """Claim, call, settle one message; False when nothing is claimable."""
        claimed = self.claim_next()
        if claimed is None:
            return False
        self.process(claimed)
        return True

    def run(self, stop: threading.Event) -> None:
        """Send until `stop` is set: woken by NOTIFY, a finished send or a number becoming
        free, else by the fallback poll (which also reconciles dead senders' claims).

        A send that raises (PostgreSQL gone while recording the answer) stops the sender:
        its claim stays `sending` and the next sender's reconcile reports it `unknown`.
        """
        quit_listening = threading.Event()
        WakeListener(psycopg_dsn(self.engine.url.render_as_string(False)), SENDER_CHANNEL,
                     self._wake, quit_listening).start()
        self._failures: list[BaseException] = []
        self._in_flight = 0
        self._slots = threading.Lock()
        with ThreadPoolExecutor(self.settings.sender_concurrency,
                                thread_name_prefix="sender") as pool:
            try:
                self._dispatch(stop, pool)
            finally:
                quit_listening.set()
        if self._failures:
            raise self._failures[0]

    def _work(self, claimed: Claimed) -> None:
        try:
            self.process(claimed)
        except BaseException as exc:
            log.exception("sending %s failed; stopping", claimed.message_id)
            self._failures.append(exc)
        finally:
            with self._slots:
                self._in_flight -= 1
            self._wake.set()

    def _dispatch(self, stop: threading.Event, pool: ThreadPoolExecutor) -> None:
        poll = self.settings.sender_poll_interval_s
        next_reconcile = time.monotonic() + poll
        while not stop.is_set() and not self._failures:
            self.last_turn = time.monotonic()
            self._wake.clear()  # before claiming: a commit after this wakes the next wait
            while self._in_flight < self.settings.sender_concurrency and not stop.is_set():
                claimed = self.claim_next()
                if claimed is None:
                    break
                with self._slots:
                    self._in_flight += 1
                pool.submit(self._work, claimed)
            now = time.monotonic()
            if now >= next_reconcile:
                self.reconcile()
                next_reconcile = now + poll
            wait = next_reconcile - now
            paced = self._next_free()
            if paced is not None:
                wait = min(wait, max(0.001, paced - now))
            self._wake.wait(max(0.0, wait))


def run_sender(engine: Engine, settings: SenderSettings, stop: threading.Event,
               writer: OutboxWriter | None = None) -> None:
    """Composition root of `nmc sender run` (`writer`: see `SmsSender`)."""
    tracing.configure("nmc-sender")
    with SmsSender(engine, settings, writer=writer) as sender:
        server = None
        if settings.sender_metrics_port:
            stale_after = 3 * settings.sender_poll_interval_s + 5
            server = probe_http.serve(
                settings.sender_metrics_port, sender.metrics.registry,
                lambda: sender_health(time.monotonic() - sender.last_turn, stale_after),
                "sender")
        try:
            sender.run(stop)
        finally:
            if server is not None:
                server.shutdown()
                server.server_close()  # else its listening socket waits for the GC


def sender_health(since_turn_s: float, stale_after_s: float) -> tuple[bool, dict[str, Any]]:
    """Healthy while the dispatch loop turns: it does at least once per poll interval."""
    healthy = since_turn_s <= stale_after_s
    return healthy, {"status": "ok" if healthy else "stalled",
                     "seconds_since_loop": round(since_turn_s, 3)}
