"""The parallel sender on the real database against a scripted Twilio: woken by NOTIFY (not
its poll), 429 / 20429 retried within the per-number rate, a timeout left `unknown` and never
resent, a SIGKILL with many texts in flight, and round-robin claims across tenants."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from edges_support import ACCOUNT, make_sender_settings, new_tenant
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from support.twilio_rest import Script, ScriptedTwilio, most_within

from producers.conversation.outbound import queue_outbound
from producers.outbox import OutboxWriter
from producers.sender.sender import Claimed, SmsSender
from producers.sender.settings import SenderSettings


@pytest.fixture
def twilio() -> Iterator[ScriptedTwilio]:
    with ScriptedTwilio(ACCOUNT) as fake:
        yield fake


def _callers(n: int) -> list[str]:
    base = 13105560000 + int(uuid.uuid4().int % 9000) * 10
    return [f"+{base + i}" for i in range(n)]


def _queue(engine: Engine, tenant_id: uuid.UUID, callers: list[str]) -> list[uuid.UUID]:
    """Queue one text per caller in one transaction (one NOTIFY)."""
    with Session(engine) as s, s.begin():
        return [uuid.UUID(queue_outbound(s, OutboxWriter(), tenant_id=tenant_id,
                                         correlation_id=uuid.uuid4(),
                                         to_phone=to, body="Sorry we missed your call")
                          .payload["message_id"]) for to in callers]


def _statuses(engine: Engine, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    with engine.connect() as conn:
        return dict(conn.execute(text(  # type: ignore[arg-type]
            "SELECT message_id, status FROM outbound_messages WHERE message_id = ANY(:ids)"),
            {"ids": ids}).all())


@pytest.fixture
def running(engine: Engine) -> Iterator[Callable[..., SmsSender]]:
    """Start `SmsSender.run` in a thread; stopped (and joined) at teardown."""
    started: list[tuple[SmsSender, threading.Thread, threading.Event]] = []

    def start(settings: SenderSettings,
              on_departure: Callable[[Claimed, float], None] | None = None) -> SmsSender:
        sender = SmsSender(engine, settings, on_departure=on_departure)
        stop = threading.Event()
        sender.start()
        thread = threading.Thread(target=sender.run, args=(stop,), daemon=True)
        thread.start()
        started.append((sender, thread, stop))
        return sender

    yield start
    for sender, thread, stop in started:
        stop.set()
        sender.wake()  # its poll may be an hour: do not wait for it
        thread.join(30)
        sender.close()


def _listening(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'nmc-sender-listen' AND query LIKE 'LISTEN%'")).scalar())


def _settings(twilio: ScriptedTwilio, **overrides: Any) -> SenderSettings:
    return make_sender_settings(twilio.url, twilio_account_sid=ACCOUNT, **overrides)


def test_a_queued_text_wakes_the_idle_sender_at_once(engine, twilio, running, wait_until):
    tenant = new_tenant(engine)
    # the fallback poll is an hour: whatever sends these texts within the wait is the NOTIFY
    running(_settings(twilio, sender_poll_interval_s=3600.0, sender_number_rate_per_s=0))
    wait_until(lambda: _listening(engine), "the sender listens")
    latencies = []
    for to in _callers(5):
        queued_at = time.monotonic()
        _queue(engine, tenant.tenant_id, [to])
        wait_until(lambda to=to: twilio.accepted(to), "the text reached Twilio", timeout=30)
        latencies.append(twilio.accepted(to)[0].at - queued_at)
    print("queued -> Twilio, s (figures only; speed is bench/textback's):", latencies)


def test_throttled_texts_are_retried_within_the_number_rate(engine, twilio, running,
                                                            wait_until):
    tenant = new_tenant(engine)
    callers = _callers(12)
    for to in callers[:3]:
        twilio.scripts[to] = Script(throttle_first=2)  # 429 / 20429 twice, then accepted
    rate = 5.0
    departures: list[tuple[str, float]] = []
    running(_settings(twilio, sender_number_rate_per_s=rate, sender_concurrency=8,
                      sender_throttle_backoff_max_s=0.5),
            on_departure=lambda claimed, at: departures.append((claimed.from_phone, at)))
    ids = _queue(engine, tenant.tenant_id, callers)
    wait_until(lambda: set(_statuses(engine, ids).values()) == {"sent"}, "all sent", timeout=60)
    assert all(len(twilio.accepted(to)) == 1 for to in callers)
    assert [twilio.requests_to(to) for to in callers[:3]] == [3, 3, 3]
    # every request (retries included) left through the rate gate, none more than `rate` a
    # second per number; the departures are checked, not the fake's arrival stamps, which a busy
    # machine delays unevenly (6 arrivals within 0.9 s were seen at load 20)
    assert len(departures) == sum(twilio.requests_to(to) for to in callers) == 12 + 2 * 3
    assert most_within(departures, 1.0) <= rate


def test_a_timeout_leaves_unknown_and_is_never_resent(engine, twilio, wait_until):
    tenant = new_tenant(engine)
    slow, fine = _callers(2)
    twilio.scripts[slow] = Script(delay_s=3.0)
    settings = _settings(twilio, sender_http_timeout_s=0.5, sender_number_rate_per_s=0)
    [slow_id, fine_id] = _queue(engine, tenant.tenant_id, [slow, fine])
    with SmsSender(engine, settings) as sender:
        while sender.send_one():
            pass
    assert _statuses(engine, [slow_id, fine_id]) == {slow_id: "unknown", fine_id: "sent"}
    with SmsSender(engine, settings) as again:
        assert not again.send_one()
    assert twilio.requests_to(slow) == 1 and twilio.requests_to(fine) == 1


_RUN_SENDER = """
import sys, threading
from pydantic import SecretStr
from nmc.infra.db import make_engine
from producers.sender.sender import run_sender
from producers.sender.settings import SenderSettings

db, api, account = sys.argv[1:4]
settings = SenderSettings(twilio_api_base=api, twilio_account_sid=account,
                          twilio_auth_token=SecretStr("t"), public_base_url="https://edge.test",
                          sender_concurrency=8, sender_number_rate_per_s=0)
run_sender(make_engine(db), settings, threading.Event())
"""


@pytest.mark.fault
def test_sigkill_with_many_texts_in_flight_loses_none_and_sends_none_twice(
        engine, database_url, twilio, wait_until):
    tenant = new_tenant(engine)
    callers = _callers(20)
    for to in callers:
        twilio.scripts[to] = Script(delay_s=2.0)  # slow: eight requests are open at the kill
    ids = _queue(engine, tenant.tenant_id, callers)
    proc = subprocess.Popen([sys.executable, "-c", _RUN_SENDER, database_url, twilio.url,
                             ACCOUNT])
    try:
        wait_until(lambda: len(twilio.calls) >= 8, "eight texts in flight", timeout=60)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    in_flight = {c.to for c in twilio.calls}
    for to in callers:
        twilio.scripts[to].delay_s = 0.0
    with SmsSender(engine, _settings(twilio, sender_number_rate_per_s=0)) as sender:
        while sender.send_one():
            pass
    statuses = _statuses(engine, ids)
    by_to = dict(zip(callers, ids, strict=True))
    assert all(twilio.requests_to(to) <= 1 for to in callers)  # never twice
    assert all(statuses[by_to[to]] == "unknown" for to in in_flight)  # reported, not resent
    assert set(statuses.values()) <= {"sent", "unknown"}  # none lost
    assert sum(1 for s in statuses.values() if s == "sent") >= len(callers) - 8


def test_one_tenants_burst_does_not_starve_another(engine, twilio):
    busy = new_tenant(engine, number="+13105550007", name="Busy Plumbing")
    quiet = new_tenant(engine, number="+13105550008", name="Quiet Dentist")
    _queue(engine, busy.tenant_id, _callers(1000))
    settings = _settings(twilio, sender_number_rate_per_s=0)
    with SmsSender(engine, settings) as sender:
        for _ in range(5):
            claimed = sender.claim_next()
            assert claimed is not None and claimed.tenant_id == busy.tenant_id
        [quiet_text] = _queue(engine, quiet.tenant_id, _callers(1))
        order = [c.message_id for c in (sender.claim_next() for _ in range(3)) if c]
    assert quiet_text in order[:1], order  # the next claim is the quiet tenant's turn
