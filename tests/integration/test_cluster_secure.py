"""`nmc stack up --secure`: SASL_SSL + SCRAM-SHA-512 only and a registry behind basic auth;
wrong clients refused, the right one carries events outbox -> relay -> topic -> consumer
(the relay encoding through the authenticated registry, the consumer decoding through it)."""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from cluster_support import extra_kafka
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from pydantic import SecretStr
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from support.streams import start_worker, stop_worker, wait_caught_up

from nmc.bootstrap import prepare
from nmc.contract.envelope import parse_event
from nmc.contract.examples import example_envelopes
from nmc.contract.schemas import default_catalog
from nmc.infra.connection import ConnectionSettings, registry_http_auth
from nmc.infra.consume import end_offsets, read_records
from nmc.infra.kafka_clients import admin_config, domain_topics
from nmc.infra.settings import Settings
from nmc.stack.layout import Layout
from nmc.stack.secure import client_env, ensure_material
from producers.outbox import OutboxWriter

pytestmark = pytest.mark.xdist_group("extra-ports")  # ports of the main stack + 2..


@pytest.fixture(scope="module")
def secured(stack: Settings) -> Iterator[Settings]:
    with extra_kafka(stack, "secure", secure=True, registry=True) as settings:
        prepare(settings)  # registers the schemas through the gate, with basic auth
        yield settings


def _metadata(settings: Settings) -> object:
    config = {**admin_config(settings), "log_level": 0, "socket.timeout.ms": 3000}
    return AdminClient(config).list_topics(timeout=8)


def test_the_configured_client_connects(secured: Settings) -> None:
    assert secured.connection.kafka_security_protocol == "SASL_SSL"
    assert "nmc.telephony" in _metadata(secured).topics  # type: ignore[attr-defined]


def test_a_wrong_password_is_refused(secured: Settings) -> None:
    wrong = secured.connection.model_copy(update={"kafka_sasl_password": SecretStr("nope")})
    with pytest.raises(KafkaException):
        _metadata(secured.model_copy(update={"connection": wrong}))


def test_a_client_without_tls_is_refused(secured: Settings) -> None:
    for conn in (
        ConnectionSettings(),  # PLAINTEXT
        secured.connection.model_copy(update={"kafka_security_protocol": "SASL_PLAINTEXT"}),
    ):
        with pytest.raises(KafkaException):
            _metadata(secured.model_copy(update={"connection": conn}))


def test_a_client_that_does_not_trust_the_ca_is_refused(secured: Settings) -> None:
    untrusting = secured.connection.model_copy(update={"kafka_ssl_ca_location": None})
    with pytest.raises(KafkaException):
        _metadata(secured.model_copy(update={"connection": untrusting}))


def _api_versions_answer(sock: socket.socket) -> bytes:
    """Send a Kafka ApiVersions v0 request; what comes back (b"" when the peer closed)."""
    sock.sendall(struct.pack(">ihhih", 10, 18, 0, 1, -1))
    return sock.recv(4)


def test_the_controller_listener_refuses_clients_without_a_certificate(
    secured: Settings, stack: Settings
) -> None:
    # the plain main stack's controller answers this very request: the probe can see a yes
    with socket.create_connection(("127.0.0.1", stack.nmc_kafka_controller_port), 10) as sock:
        assert len(_api_versions_answer(sock)) == 4
    port = secured.nmc_kafka_controller_port
    with socket.create_connection(("127.0.0.1", port), 10) as sock:  # plaintext
        sock.settimeout(10)
        with contextlib.suppress(ConnectionResetError):  # reset, closed or a TLS alert record
            assert _api_versions_answer(sock)[:1] in (b"", b"\x15")
    # TLS trusting the stack's CA, but without a client certificate: refused in the handshake
    context = ssl.create_default_context(cafile=str(ensure_material(Layout.of(secured).home)
                                                    .ca_cert))
    with socket.create_connection(("127.0.0.1", port), 10) as raw:
        raw.settimeout(10)
        with pytest.raises((ssl.SSLError, ConnectionError)), \
                context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            if _api_versions_answer(tls) == b"":
                raise ConnectionError("closed without an answer")


def test_the_registry_refuses_missing_or_wrong_credentials(secured: Settings) -> None:
    login = registry_http_auth(secured.connection)
    assert login is not None
    url = f"{secured.registry}/subjects"
    assert httpx.get(url, timeout=10).status_code == 401
    assert httpx.get(url, timeout=10, auth=(login[0], "nope")).status_code == 401
    answer = httpx.get(url, timeout=10, auth=login)
    assert answer.status_code == 200 and len(answer.json()) == len(default_catalog())


def test_relay_to_consumer_end_to_end_over_sasl_ssl(
    secured: Settings, database_url: str, engine: Engine, wait_until: Callable[..., None],
    tmp_path: Path,
) -> None:
    """Relay (librdkafka) and a Faust conversation worker (aiokafka), both on SASL_SSL."""
    from producers.relay.app import run_relay

    settings = secured.model_copy(update={"database_url": SecretStr(database_url)})
    envelopes = example_envelopes(uuid.uuid4(), uuid.uuid4())
    ids = {e["event_id"] for e in envelopes}
    start = end_offsets(settings, domain_topics())
    with Session(engine) as session, session.begin():
        OutboxWriter().append_all(session, [parse_event(e) for e in envelopes])
    stop = threading.Event()
    relay = threading.Thread(target=run_relay, args=(settings, stop), daemon=True)
    relay.start()
    prefix = f"test-secure-{uuid.uuid4().hex[:8]}"
    worker = start_worker(
        "conversation", database_url=database_url, topic_suffix="", app_id_prefix=prefix,
        nmc_home=tmp_path, worker_id="w1", log_path=tmp_path / "worker.log",
        extra_env={
            **client_env(ensure_material(Layout.of(secured).home), registry_auth=True),
            "KAFKA_BOOTSTRAP_SERVERS": secured.kafka,
            "SCHEMA_REGISTRY_URL": secured.registry,
        },
    )
    try:
        def pending() -> int:
            with engine.connect() as conn:
                return int(conn.execute(text(
                    "SELECT count(*) FROM outbox_events WHERE state <> 'published'"
                )).scalar_one())

        wait_until(lambda: pending() == 0, "the relay to publish over SASL_SSL")
        records = read_records(
            settings, start, until=lambda rs: {r.headers["event_id"] for r in rs} >= ids,
            keep=lambda h: h.get("event_id") in ids,
        )
        assert {r.headers["event_id"] for r in records} == ids
        wait_caught_up(settings, f"{prefix}-conversation", ["nmc.telephony", "nmc.conversation"])
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM stream_dead_letters")).scalar() == 0
            tenant = envelopes[0]["tenant_id"]
            assert conn.execute(
                text("SELECT count(*) FROM conv_conversations WHERE tenant_id::text = :t"),
                {"t": tenant},
            ).scalar() == 1
    finally:
        stop.set()
        relay.join(timeout=30)
        stop_worker(worker)
