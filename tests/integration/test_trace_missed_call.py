"""One missed call is one trace: the signed webhook of the demo's missed call goes through
`nmc edge serve`, `nmc relay`, `nmc reactor`, `nmc sender run` and `nmc worker conversation`,
each a separate OS process writing its spans to a file of its own (`NMC_TRACES_DIR`), and the
spans join into one parent/child chain from the webhook to the read model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from support.settings import PlatformSettings as Settings
from support.streams import remove_group, start_worker, stop_worker
from support.twilio_rest import ScriptedTwilio
from support.waits import wait_until, watch_log
from twilio.request_validator import RequestValidator

from nmc.demo.local_platform import commit_at_end
from nmc.infra.kafka_clients import domain_topics
from nmc.infra.net import free_port
from producers.compliance.campaigns import set_campaign_status
from producers.conversation.reactions.consumer import SOURCE_TOPICS
from producers.outbox import OutboxWriter
from producers.tables import subscriptions
from producers.tenants.store import add_tenant

PUBLIC_URL = "https://edge.trace.test"
TWILIO_TOKEN = "trace-twilio-auth-token"
ACCOUNT = "AC" + "0" * 32
NUMBER = "+14155550123"
Spans = dict[str, dict[str, Any]]


def add_texting_tenant(engine: Engine) -> None:
    """A tenant whose missed calls are texted back (live subscription, approved campaign)."""
    now, tenant_id = datetime.now(UTC), uuid.uuid4()
    with Session(engine) as session, session.begin():
        add_tenant(session, name="Trace", numbers=[NUMBER], time_zone="UTC",
                   tenant_id=tenant_id, stripe_customer_id="cus_trace")
        session.execute(subscriptions.insert().values(
            stripe_subscription_id="sub_trace", tenant_id=tenant_id,
            stripe_customer_id="cus_trace", plan="pro", status="active",
            current_period_end=now + timedelta(days=30), source_created=now))
        set_campaign_status(session, OutboxWriter(), tenant_id, uuid.uuid4(), "approved", now)


@contextmanager
def processes(settings: Settings, twilio_url: str, log_dir: Path, traces: Path,
              group: str, edge_port: int) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """`nmc edge serve`, `nmc relay`, `nmc reactor` and `nmc sender run` as OS processes,
    each writing its spans to `traces`; stopped (and the reactor's group removed) after."""
    env = {**os.environ, "DATABASE_URL": settings.database, "NMC_TRACES_DIR": str(traces),
           "NMC_REACTIONS_GROUP": group,
           "NMC_EDGE_HOST": "127.0.0.1", "NMC_EDGE_PORT": str(edge_port),
           "NMC_EDGE_PUBLIC_BASE_URL": PUBLIC_URL, "NMC_EDGE_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
           "NMC_EDGE_STRIPE_WEBHOOK_SECRET": "whsec_trace0123456789",
           "NMC_EDGE_JWT_SECRET": "trace-jwt-secret-0123456789abcdef",
           "NMC_EDGE_TWILIO_API_BASE": twilio_url, "NMC_EDGE_TWILIO_ACCOUNT_SID": ACCOUNT,
           "NMC_EDGE_SENDER_POLL_INTERVAL_S": "0.5"}
    commit_at_end(settings, group, list(SOURCE_TOPICS))  # no texts about older calls
    procs: dict[str, subprocess.Popen[bytes]] = {}
    commands = {"edge": ["edge", "serve"], "relay": ["relay"], "reactor": ["reactor"],
                "sender": ["sender", "run"]}
    try:
        for name, args in commands.items():
            log = watch_log(log_dir / f"{name}.log")
            with log.open("wb") as out:
                procs[name] = subprocess.Popen([sys.executable, "-m", "nmc.cli", *args],
                                               env=env, stdout=out, stderr=subprocess.STDOUT)
        yield procs
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        remove_group(settings, group)


def edge_up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def missed_call(port: int) -> int:
    """One Twilio-signed no-answer voice status callback, as the demo's missed call."""
    params = {"CallSid": f"CA{uuid.uuid4().hex}", "CallStatus": "no-answer",
              "From": "+13105550199", "To": NUMBER}
    path = "/twilio/voice/status"
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC_URL + path, params)
    return httpx.post(f"http://127.0.0.1:{port}{path}", data=params, timeout=10,
                      headers={"X-Twilio-Signature": signature}).status_code


def read_spans(traces_dir: Path) -> Spans:
    """Every finished span of every process, by span id."""
    spans: Spans = {}
    for path in sorted(traces_dir.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.endswith("}"):  # a line being written is skipped until it is whole
                record = json.loads(line)
                spans[record["span_id"]] = record
    return spans


def chain_to_root(spans: Spans, span: dict[str, Any]) -> list[dict[str, Any]]:
    """The span and its ancestors, root last (stops where a parent is not among `spans`)."""
    chain = [span]
    while chain[-1]["parent_span_id"] in spans:
        chain.append(spans[chain[-1]["parent_span_id"]])
    return chain


def delivered_projection(spans: Spans) -> list[dict[str, Any]] | None:
    """The chain from the worker's projection of a text's DeliveryUpdated up to its root, when
    that root is the edge's span of a missed call's webhook (the test sends one)."""
    for span in spans.values():
        if span["name"] == "project DeliveryUpdated":
            chain = chain_to_root(spans, span)
            if chain[-1]["name"] == "POST /twilio/voice/status":
                return chain
    return None


def test_a_missed_call_is_one_trace_through_every_process(
    test_settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    traces = tmp_path / "traces"
    add_texting_tenant(engine)
    run = uuid.uuid4().hex[:8]
    worker_prefix = f"nmc-trace-{run}"
    commit_at_end(test_settings, f"{worker_prefix}-conversation", domain_topics())
    edge_port = free_port()
    (tmp_path / "worker").mkdir()
    found: list[list[dict[str, Any]]] = []
    with ScriptedTwilio(ACCOUNT) as twilio, \
            processes(test_settings, twilio.url, tmp_path, traces, f"nmc-trace-{run}-reactions",
                      edge_port) as procs:
        worker = start_worker(
            "conversation", database_url=test_settings.database, topic_suffix="",
            app_id_prefix=worker_prefix, nmc_home=tmp_path / "worker", worker_id="trace",
            extra_env={"NMC_TRACES_DIR": str(traces)})
        try:
            wait_until(lambda: edge_up(edge_port), "nmc edge serve answering /healthz", 60)
            assert missed_call(edge_port) == 200  # the one webhook of the test

            def projected() -> bool:
                assert all(p.poll() is None for p in [worker, *procs.values()])
                chain = delivered_projection(read_spans(traces))
                if chain is not None:
                    found.append(chain)
                return chain is not None

            wait_until(projected, "the projection of the auto-reply's delivery, in the trace",
                       120, explain=lambda: ", ".join(sorted(
                           {f"{s['service']}:{s['name']}" for s in read_spans(traces).values()})))
        finally:
            stop_worker(worker)
            remove_group(test_settings, f"{worker_prefix}-conversation")
        assert twilio.calls  # the text went out once
    chain = list(reversed(found[0]))  # root first
    spans = read_spans(traces)
    hops = [(s["service"], s["name"]) for s in chain]
    # the product's path, each hop the child of the one before (FastAPI's own operation spans
    # may sit between the request and the writer)
    expected = [
        ("nmc-edge", "POST /twilio/voice/status"),
        ("nmc-edge", "outbox append"),
        ("nmc-relay", "publish nmc.telephony"),
        ("nmc-reactor", "react CallDetected"),
        ("nmc-sender", "send sms"),
        ("nmc-sender", "outbox append"),
        ("nmc-relay", "publish nmc.conversation"),
        ("nmc-worker-conversation", "project DeliveryUpdated"),
    ]
    assert [h for h in hops if h in expected] == expected, hops
    assert hops[0] == expected[0] and hops[-1] == expected[-1]
    assert len({s["trace_id"] for s in chain}) == 1
    # one trace: every span of the call's trace hangs from the webhook's span
    trace_id = chain[0]["trace_id"]
    in_trace = [s for s in spans.values() if s["trace_id"] == trace_id]
    assert all(chain_to_root(spans, s)[-1]["span_id"] == chain[0]["span_id"] for s in in_trace)
    assert {s["service"] for s in in_trace} >= {
        "nmc-edge", "nmc-relay", "nmc-reactor", "nmc-sender", "nmc-worker-conversation"}
    # the read model the last hop wrote shows the text as sent
    with engine.connect() as conn:
        statuses = conn.execute(text(
            "SELECT status FROM conv_messages WHERE direction = 'out'")).scalars().all()
    assert "sent" in statuses

