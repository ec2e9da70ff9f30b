"""The SMS sender process: claim, call Twilio once, record the answer.

No double send: the claim (queued -> sending) commits *before* the API call, so after any
crash the row is `sending`, never `queued`, and is not picked again. Each sender holds a
session advisory lock named after its instance id while it runs; `reconcile` turns `sending`
rows whose claimer's lock is free (the claimer died: its connection, hence its lock, is gone)
into `unknown`. A live sender's in-flight rows are never touched, so several senders may run.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine, select, text, update
from sqlalchemy.orm import Session
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from producers.conversation.message_status import can_transition
from producers.conversation.outbound import delivery_event
from producers.outbox import OutboxWriter
from producers.sender.settings import SenderSettings
from producers.sender.state import SendOutcome, classify_error
from producers.tables import outbound_messages

log = logging.getLogger(__name__)

_LOCK = "SELECT pg_advisory_lock(hashtextextended('nmc-sender:' || :id, 0))"
_TRY_LOCK = "SELECT pg_try_advisory_xact_lock(hashtextextended('nmc-sender:' || :id, 0))"
_CLAIM = text(
    """
    UPDATE outbound_messages
       SET status = 'sending', claimed_by = :me, claimed_at = clock_timestamp(),
           attempts = attempts + 1, updated_at = clock_timestamp()
     WHERE message_id = (
           SELECT message_id FROM outbound_messages
            WHERE status = 'queued'
            ORDER BY created_at
            LIMIT 1
              FOR UPDATE SKIP LOCKED)
       AND status = 'queued'
    RETURNING message_id, tenant_id, to_phone, from_phone, body
    """
)


@dataclass(frozen=True)
class Claimed:
    message_id: UUID
    tenant_id: UUID
    to_phone: str
    from_phone: str
    body: str


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
    point of the tests (and nothing else).
    """

    def __init__(self, engine: Engine, settings: SenderSettings, *,
                 after_claim: Callable[[Claimed], None] | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.instance_id = uuid.uuid4()
        self.after_claim = after_claim
        self._client, self._http = twilio_client(settings)
        self._lock_conn: Connection | None = None

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
        session = getattr(self._http, "session", None)
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
        """Claim one queued message in its own committed transaction."""
        with self.engine.begin() as conn:
            row = conn.execute(_CLAIM, {"me": self.instance_id}).first()
        if row is None:
            return None
        return Claimed(row.message_id, row.tenant_id, row.to_phone, row.from_phone, row.body)

    def call_api(self, claimed: Claimed) -> SendOutcome:
        """The one API call for this message; every failure is classified, none raised."""
        kwargs: dict[str, Any] = {"to": claimed.to_phone, "from_": claimed.from_phone,
                                  "body": claimed.body}
        if self.settings.public_base_url:
            kwargs["status_callback"] = (
                f"{self.settings.public_base_url}/twilio/messages/status?mid={claimed.message_id}"
            )
        try:
            message = self._client.messages.create(**kwargs)
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
                OutboxWriter().append(session, delivery_event(
                    tenant_id=row.tenant_id, correlation_id=row.correlation_id,
                    causation_id=row.queued_event_id, message_id=row.message_id,
                    status=outcome.status, provider_ref=outcome.provider_sid or "",
                    error_code=outcome.error_code, now=now))
        if outcome.status != "sent":
            log.warning("message %s: %s %s", claimed.message_id, outcome.status, outcome.detail)

    def send_one(self) -> bool:
        """Claim, call, settle one message; False when nothing is queued."""
        claimed = self.claim_next()
        if claimed is None:
            return False
        if self.after_claim is not None:
            self.after_claim(claimed)
        self.settle(claimed, self.call_api(claimed))
        return True

    def run(self, stop: threading.Event) -> None:
        """Send until `stop` is set; reconcile on every idle poll."""
        while not stop.is_set():
            if not self.send_one():
                self.reconcile()
                stop.wait(self.settings.sender_poll_interval_s)


def run_sender(engine: Engine, settings: SenderSettings, stop: threading.Event) -> None:
    """Composition root of `nmc sender run`."""
    with SmsSender(engine, settings) as sender:
        sender.run(stop)
