"""`nmc sender run`'s /metrics and /healthz: texts by outcome, and the text-back latency from
the missed call's arrival at the edge (the `calls` row of the conversation) to Twilio's answer."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from edges_support import ACCOUNT, make_sender_settings, new_tenant
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session
from support.twilio_rest import ScriptedTwilio

from nmc.infra.net import free_port
from producers.conversation.outbound import queue_outbound
from producers.outbox import OutboxWriter
from producers.sender.sender import run_sender, sender_health
from producers.tables import calls, outbound_messages


def _samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def test_metrics_count_outcomes_and_time_the_text_back_from_the_call(
    engine: Engine, wait_until
) -> None:
    tenant = new_tenant(engine)
    correlation = uuid.uuid4()
    missed_at = datetime.now(UTC) - timedelta(seconds=2)  # the call came in two seconds ago
    with Session(engine) as s, s.begin():
        s.execute(insert(calls).values(
            call_id=uuid.uuid4(), tenant_id=tenant.tenant_id, call_sid=f"CA{uuid.uuid4().hex}",
            from_phone="+13105550100", to_phone="+13105550199", call_status="no-answer",
            correlation_id=correlation, event_id=uuid.uuid4(), received_at=missed_at))
        message_id = queue_outbound(s, OutboxWriter(), tenant_id=tenant.tenant_id,
                                    correlation_id=correlation,
                                    to_phone="+13105550100", body="Sorry we missed your call"
                                    ).payload["message_id"]
    port = free_port()
    stop = threading.Event()
    with ScriptedTwilio(ACCOUNT) as twilio:
        settings = make_sender_settings(twilio.url, twilio_account_sid=ACCOUNT,
                                        sender_metrics_port=port, sender_number_rate_per_s=0)
        thread = threading.Thread(target=run_sender, args=(engine, settings, stop), daemon=True)
        thread.start()
        try:
            def sent() -> bool:
                with engine.connect() as conn:
                    return conn.execute(
                        outbound_messages.select().where(
                            outbound_messages.c.message_id == uuid.UUID(message_id))
                    ).one().status == "sent"

            wait_until(sent, "the text to be sent", 30)

            def scraped() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
                return _samples(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text)

            wait_until(lambda: scraped().get(("nmc_sender_texts_total",
                                              (("outcome", "sent"),))) == 1.0,
                       "the sent text counted", 10)
            samples = scraped()
            assert samples[("nmc_sender_texts_total", (("outcome", "unknown"),))] == 0.0
            assert samples[("nmc_textback_latency_seconds_count", ())] == 1.0
            assert samples[("nmc_textback_latency_seconds_sum", ())] >= 2.0  # from the call
            assert samples[("nmc_sender_queued_to_sent_seconds_count", ())] == 1.0
            health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
            assert health.status_code == 200 and health.json()["status"] == "ok"
        finally:
            stop.set()
            thread.join(30)


def test_health_follows_the_dispatch_loop() -> None:
    assert sender_health(0.5, stale_after_s=8.0)[0]
    healthy, body = sender_health(9.0, stale_after_s=8.0)
    assert not healthy and body["status"] == "stalled"
