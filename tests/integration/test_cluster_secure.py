"""`nmc stack up --secure`: SASL_SSL + SCRAM-SHA-512 only and a registry behind basic auth;
wrong clients refused, the right one carries events outbox -> relay -> topic -> consumer
(the relay encoding through the authenticated registry, the consumer decoding through it).

With ACLs per principal (nmc.acl.model): each process connects as its own principal, does its
job, and is refused one step outside it with an authorization error (never a timeout).

The same broker also verifies OAUTHBEARER tokens against a JWKS (`--oauth-jwks-url`): clients
that get them by the client-credentials grant (librdkafka `oidc`, aiokafka through our token
provider) from a loopback OIDC stand-in (oauth_support) produce; a wrong secret is refused.
One secured cluster serves both, started once for the module."""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from cluster_support import extra_kafka
from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    NewTopic,
)
from oauth_support import CLIENT_SECRET, oauth_client, serve_idp, topic_for_the_oidc_client
from pydantic import SecretStr
from reactions_support import reactive_tenant
from relay_support import (
    assert_complete_and_in_order,
    commit_order,
    kafka_events,
    torture_relays,
)
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from story_support import play_and_check_story
from support.settings import PlatformSettings as Settings
from support.streams import start_worker, stop_worker, wait_caught_up
from support.waits import scaled

from nmc.acl.admin import apply_acls, existing, plan_inputs
from nmc.acl.model import PlanInputs, plan, role_topics
from nmc.bootstrap import prepare
from nmc.contract.envelope import new_event, parse_event
from nmc.contract.examples import example_envelopes
from nmc.contract.schemas import default_catalog
from nmc.infra.connection import ConnectionSettings, registry_http_auth
from nmc.infra.consume import end_offsets, read_records
from nmc.infra.kafka_clients import (
    admin_config,
    consumer_config,
    domain_topics,
    ensure_topics,
    producer_config,
)
from nmc.stack.layout import Layout
from nmc.stack.secure import client_env, ensure_material
from producers.outbox import OutboxWriter

pytestmark = pytest.mark.xdist_group("extra-ports")  # ports of the main stack + 2..


@pytest.fixture(scope="module")
def idp() -> Iterator[str]:
    with serve_idp() as url:
        yield url


@pytest.fixture(scope="module")
def secured(stack: Settings, idp: str) -> Iterator[Settings]:
    with extra_kafka(stack, "secure", secure=True, registry=True,
                     oauth_jwks_url=f"{idp}/jwks") as settings:
        prepare(settings)  # registers the schemas through the gate, with basic auth
        yield settings


def _as(secured: Settings, principal: str) -> Settings:
    """`secured` connecting as `principal` (Kafka SCRAM user and its registry login)."""
    material = ensure_material(Layout.of(secured).home)
    return secured.model_copy(
        update={"connection": material.connection(principal, registry_auth=True)})


AUTHZ_CODES = (KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.GROUP_AUTHORIZATION_FAILED,
               KafkaError.CLUSTER_AUTHORIZATION_FAILED)


def _produce_error(settings: Settings, topic: str) -> KafkaError | None:
    """Produce one record (not idempotent: the topic's own ACL decides); the delivery error."""
    errors: list[KafkaError | None] = []
    producer = Producer(producer_config(settings, **{"enable.idempotence": False,
                                                     "delivery.timeout.ms": 20000}))
    producer.produce(topic, key=b"k", value=b"v",
                     on_delivery=lambda err, _msg: errors.append(err))
    producer.flush(25)
    assert errors, "no delivery report within the delivery timeout"
    return errors[0]


def _group_error(settings: Settings, group: str, timeout_s: float = 20.0) -> KafkaError | None:
    """Join `group` on nmc.telephony and commit offset 0 of partition 0 there; the error."""
    consumer = Consumer(consumer_config(settings, group))
    try:
        consumer.subscribe(["nmc.telephony"])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is not None:
                return msg.error()  # type: ignore[no-any-return]
            if consumer.assignment():
                break
        try:
            consumer.commit(offsets=[TopicPartition("nmc.telephony", 0, 0)], asynchronous=False)
        except KafkaException as exc:
            return exc.args[0]  # type: ignore[no-any-return]
        return None
    finally:
        consumer.close()


def test_the_team_reads_in_its_own_groups_only_and_cannot_produce(secured: Settings) -> None:
    team = _as(secured, "team-example")
    assert _group_error(team, f"team-example.{uuid.uuid4().hex[:8]}") is None
    refused = _group_error(team, "nmc-streams-conversation")
    assert refused is not None and refused.code() == KafkaError.GROUP_AUTHORIZATION_FAILED
    produced = _produce_error(team, "nmc.telephony")
    assert produced is not None and produced.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_the_relay_produces_but_cannot_create_topics_or_read_groups(secured: Settings) -> None:
    relay = _as(secured, "relay")  # its job, publishing, is the end-to-end test's
    dlq = _produce_error(relay, "nmc.dlq.nmc-streams-conversation")  # not nmc.* at large
    assert dlq is not None and dlq.code() in AUTHZ_CODES
    admin = AdminClient(admin_config(relay))
    created = admin.create_topics([NewTopic(f"nmc.relay-made-{uuid.uuid4().hex[:6]}", 1, 1)])
    with pytest.raises(KafkaException) as info:
        next(iter(created.values())).result(timeout=20)
    assert info.value.args[0].code() in AUTHZ_CODES
    offsets = admin.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions("nmc-streams-conversation")], request_timeout=20)
    with pytest.raises(KafkaException) as info:
        next(iter(offsets.values())).result()
    assert info.value.args[0].code() == KafkaError.GROUP_AUTHORIZATION_FAILED
    refused = _group_error(relay, "nmc-streams-conversation")
    assert refused is not None and refused.code() in AUTHZ_CODES


def test_only_the_admin_deletes_or_alters(secured: Settings) -> None:
    operator = AdminClient(admin_config(_as(secured, "operator")))
    deleted = operator.delete_topics(["nmc.telephony"], request_timeout=20)
    with pytest.raises(KafkaException) as info:
        next(iter(deleted.values())).result()
    assert info.value.args[0].code() in AUTHZ_CODES
    assert "nmc.telephony" in _metadata(secured).topics  # type: ignore[attr-defined]


def test_the_registry_lets_only_the_ci_principal_write(secured: Settings) -> None:
    material = ensure_material(Layout.of(secured).home)
    subject = f"test-ci-{uuid.uuid4().hex[:8]}-value"
    schema = {"schema": '{"type":"record","name":"Probe","fields":[{"name":"a","type":"int"}]}'}
    register = f"{secured.registry}/subjects/{subject}/versions"
    config = f"{secured.registry}/config/{subject}"
    level = {"compatibility": "FULL_TRANSITIVE"}
    assert httpx.post(register, json=schema, timeout=10).status_code == 401  # anonymous
    for reader in ("relay", "streams", "reactor", "team-example", "operator"):
        login = material.registry_login(reader)
        assert httpx.get(f"{secured.registry}/subjects", auth=login, timeout=10).status_code == 200
        assert httpx.post(register, json=schema, auth=login, timeout=10).status_code == 403
        assert httpx.put(config, json=level, auth=login, timeout=10).status_code == 403
    ci = material.registry_login("ci")
    assert httpx.post(register, json=schema, auth=ci, timeout=10).status_code == 200
    try:
        assert httpx.put(config, json=level, auth=ci, timeout=10).status_code == 200
        # the global level is the admin's (the stack sets it)
        assert httpx.put(f"{secured.registry}/config", json=level, auth=ci,
                         timeout=10).status_code == 403
        reader = material.registry_login("relay")
        assert httpx.delete(f"{secured.registry}/subjects/{subject}", auth=reader,
                            timeout=10).status_code == 403
    finally:  # the other tests count the catalog's subjects
        httpx.delete(f"{secured.registry}/subjects/{subject}", auth=ci, timeout=10)
        httpx.delete(f"{secured.registry}/subjects/{subject}", params={"permanent": "true"},
                     auth=ci, timeout=10)


def _metadata(settings: Settings) -> object:
    config = {**admin_config(settings), "log_level": 0, "socket.timeout.ms": 3000}
    return AdminClient(config).list_topics(timeout=8)


def test_the_configured_client_connects(secured: Settings) -> None:
    assert secured.connection.kafka_security_protocol == "SASL_SSL"
    assert "nmc.telephony" in _metadata(secured).topics  # type: ignore[attr-defined]


def _refused(settings: Settings, *codes: int) -> list[KafkaError]:
    """Ask for metadata until the cluster's refusal arrives as one of `codes` (librdkafka's
    error callback reports a refused login at once; waiting out a timeout would prove less and
    cost seconds); every error seen, for the assertion's message."""
    errors: list[KafkaError] = []
    admin = AdminClient({**admin_config(settings), "log_level": 0, "error_cb": errors.append})
    deadline = time.monotonic() + scaled(20)
    while not any(e.code() in codes for e in errors) and time.monotonic() < deadline:
        try:
            admin.list_topics(timeout=0.5)
        except KafkaException as exc:
            errors.append(exc.args[0])
        else:
            raise AssertionError("the cluster answered a client it should have refused")
        admin.poll(0.1)  # serves the error callback (the login's own error arrives there)
    return errors


def test_a_wrong_password_is_refused(secured: Settings) -> None:
    wrong = secured.connection.model_copy(update={"kafka_sasl_password": SecretStr("nope")})
    errors = _refused(secured.model_copy(update={"connection": wrong}), KafkaError._AUTHENTICATION)
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors


def test_a_client_without_tls_is_refused(secured: Settings) -> None:
    for conn in (
        ConnectionSettings(),  # PLAINTEXT
        secured.connection.model_copy(update={"kafka_security_protocol": "SASL_PLAINTEXT"}),
    ):
        refused = (KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN)
        errors = _refused(secured.model_copy(update={"connection": conn}), *refused)
        assert any(e.code() in refused for e in errors), errors


def test_a_client_that_does_not_trust_the_ca_is_refused(secured: Settings) -> None:
    untrusting = secured.connection.model_copy(update={"kafka_ssl_ca_location": None})
    refused = (KafkaError._SSL, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN)
    errors = _refused(secured.model_copy(update={"connection": untrusting}), *refused)
    assert any(e.code() in refused for e in errors), errors


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

    settings = _as(secured, "relay").model_copy(update={"database_url": SecretStr(database_url)})
    envelopes = example_envelopes(uuid.uuid4(), uuid.uuid4())
    ids = {e["event_id"] for e in envelopes}
    start = end_offsets(settings, domain_topics())
    with Session(engine) as session, session.begin():
        OutboxWriter().append_all(session, [parse_event(e) for e in envelopes])
    stop = threading.Event()
    relay = threading.Thread(target=run_relay, args=(settings, settings, stop), daemon=True)
    relay.start()
    prefix = f"test-secure-{uuid.uuid4().hex[:8]}"
    # as the admin (a deployer would: `nmc acl apply` with NMC_STREAMS_APP_ID_PREFIX set): the
    # streams principal's rules for this prefix, and its DLQ/replay topics
    inputs = PlanInputs(reactor_group=plan_inputs(secured).reactor_group, streams_prefix=prefix)
    ensure_topics(secured, role_topics(inputs, ["conversation"]))
    apply_acls(admin_config(secured), [e for e in plan(inputs) if e.principal == "streams"],
               set())
    worker = start_worker(
        "conversation", database_url=database_url, topic_suffix="", app_id_prefix=prefix,
        nmc_home=tmp_path, worker_id="w1", log_path=tmp_path / "worker.log",
        extra_env={
            **client_env(ensure_material(Layout.of(secured).home), registry_auth=True,
                         principal="streams"),
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
        records = read_records(  # the operator's tools read every nmc.* topic
            _as(secured, "operator"), start,
            until=lambda rs: {r.headers["event_id"] for r in rs} >= ids,
            keep=lambda h: h.get("event_id") in ids,
        )
        assert {r.headers["event_id"] for r in records} == ids
        team = Consumer(consumer_config(_as(secured, "team-example"),
                                        f"team-example.{uuid.uuid4().hex[:8]}"))
        seen: set[str] = set()
        try:  # a consuming team, in its own group, reads them too
            team.assign(start)
            wait_until(lambda: _poll_ids(team, seen) >= ids, "the team principal to read them")
        finally:
            team.close()
        wait_caught_up(_as(secured, "operator"), f"{prefix}-conversation",
                       ["nmc.telephony", "nmc.conversation"])
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


def _poll_ids(consumer: Consumer, seen: set[str]) -> set[str]:
    msg = consumer.poll(0.5)
    if msg is not None:
        assert msg.error() is None, msg.error()
        seen |= {v.decode() for k, v in (msg.headers() or []) if k == "event_id"}
    return seen


def test_the_reactor_texts_back_under_its_own_acls_and_no_further(
    secured: Settings, database_url: str, engine: Engine, wait_until: Callable[..., None],
) -> None:
    """The reactor, as its own principal in the group the stack's ACLs name, consumes a missed
    call the relay published and queues the auto-reply (its MessageSent goes out through the
    relay); one step outside its rules (another group, producing a domain topic) it is refused
    with an authorization error."""
    from producers.conversation.reactions.app import run_reactor
    from producers.conversation.reactions.settings import ReactorSettings
    from producers.relay.app import run_relay

    reactor = _as(secured, "reactor").model_copy(update={"database_url": SecretStr(database_url)})
    knobs = ReactorSettings(offset_reset="earliest", session_timeout_ms=6000)
    group = knobs.group
    inputs = plan_inputs(secured)
    assert group == inputs.reactor_group  # the group its ACLs were written for
    ensure_topics(secured, role_topics(inputs, []))  # its DLQ and replay topics, as the admin
    relay = _as(secured, "relay").model_copy(update={"database_url": SecretStr(database_url)})
    tenant = reactive_tenant(engine, "+13105550100", "Secure Plumbing")
    caller = "+13105557777"
    missed = new_event("nmc.telephony.CallDetected", tenant_id=tenant,
                       correlation_id=uuid.uuid4(), payload={
                           "call_id": str(uuid.uuid4()), "from_phone": caller,
                           "to_phone": "+13105550100", "reason": "no-answer",
                           "provider_ref": "CA1"})
    stop, assigned = threading.Event(), threading.Event()
    threads = [threading.Thread(target=run_relay, args=(relay, relay, stop), daemon=True),
               threading.Thread(target=run_reactor, args=(reactor, knobs, stop, assigned),
                                kwargs={"writer": OutboxWriter()}, daemon=True)]
    for thread in threads:
        thread.start()
    try:
        wait_until(assigned.is_set, "the reactor to join its group as the reactor principal")
        with Session(engine) as session, session.begin():
            OutboxWriter().append_all(session, [missed])

        def replies() -> int:
            with engine.connect() as conn:
                return int(conn.execute(text(
                    "SELECT count(*) FROM outbound_messages WHERE tenant_id = :t"),
                    {"t": tenant}).scalar_one())

        def published_reply() -> bool:
            with engine.connect() as conn:
                return bool(conn.execute(text(
                    "SELECT count(*) FROM outbox_events WHERE tenant_id = :t AND state = "
                    "'published' AND event_name = 'nmc.conversation.MessageSent'"),
                    {"t": tenant}).scalar_one())

        wait_until(lambda: replies() == 1, "the reactor to queue the auto-reply")
        wait_until(published_reply, "the relay to publish the reactor's MessageSent")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert replies() == 1
    error = _group_error(_as(secured, "reactor"), f"not-the-reactors-{uuid.uuid4().hex[:6]}")
    assert error is not None and error.code() == KafkaError.GROUP_AUTHORIZATION_FAILED, error
    error = _produce_error(_as(secured, "reactor"), "nmc.telephony")
    assert error is not None and error.code() in AUTHZ_CODES, error


def test_the_demo_story_runs_with_each_process_as_its_own_principal(
    secured: Settings, database_url: str, engine: Engine, tmp_path: Path,
) -> None:
    """`nmc demo`'s story through LocalPlatform on the secured stack: the relay, the reactor
    and the stream workers each log in as themselves under the standing ACLs plus the rules
    the admin granted for the run's own groups (and to PostgreSQL as their process roles),
    and the outcomes are the plain demo's."""
    settings = secured.model_copy(update={"database_url": SecretStr(database_url)})
    db_logins: set[str] = set()

    def db_logins_now(_platform: object) -> None:
        with engine.connect() as conn:
            db_logins.update(conn.execute(text(
                "SELECT DISTINCT usename FROM pg_stat_activity "
                "WHERE datname = current_database()")).scalars())

    platform = play_and_check_story(settings, tmp_path / "logs", tmp_path / "targets",
                                    while_running=db_logins_now)
    assert platform.secured
    # and to PostgreSQL each as its process role (nmc.infra.db_roles)
    assert {"nmc_relay", "nmc_writer", "nmc_streams", "nmc_api"} <= db_logins, db_logins
    logins = {p: platform.as_principal(p).connection.kafka_sasl_username
              for p in ("relay", "reactor", "streams")}
    assert logins == {"relay": "relay", "reactor": "reactor", "streams": "streams"}
    assert platform.worker_env()["KAFKA_SASL_USERNAME"] == "streams"
    granted = set(platform.run_acls())
    assert granted and all(e.principal in ("reactor", "streams") for e in granted)
    # taken back with the run's topics and groups: nothing of the run is left on the cluster
    assert not granted & set(existing(AdminClient(admin_config(secured))))


def test_relay_kills_in_flight_lose_and_reorder_nothing_as_the_relay_principal(
    secured: Settings, database_url: str, engine: Engine, wait_until: Callable[..., None],
    tmp_path: Path,
) -> None:
    """The relay torture test of test_relay_properties, lean, over SASL_SSL: writers share
    keys (late commits, rollbacks) while two `nmc relay` processes publish as the relay
    principal; one is SIGKILLed twice while its batch is being produced and acknowledged and
    replaced: 0 lost, and per key the first occurrences keep commit order."""
    env = {
        **client_env(ensure_material(Layout.of(secured).home), registry_auth=True,
                     principal="relay"),
        "KAFKA_BOOTSTRAP_SERVERS": secured.kafka, "SCHEMA_REGISTRY_URL": secured.registry,
    }
    tenant = uuid.uuid4()
    start = end_offsets(secured, domain_topics())
    torture_relays(engine, database_url, tmp_path, tenant, keys=8, relays=2, kills=2,
                   per_kill=40, threads=3, env=env)
    assert_complete_and_in_order(commit_order(engine), kafka_events(secured, start, tenant))


# --- OAUTHBEARER ----------------------------------------------------------------------------


def test_an_oidc_client_produces_and_a_wrong_secret_is_refused(
    secured: Settings, idp: str, wait_until: Callable[..., None]
) -> None:
    good = oauth_client(secured, idp, CLIENT_SECRET)
    topic = f"oauth-{uuid.uuid4().hex[:8]}"
    topic_for_the_oidc_client(secured, topic)
    answers: list[object] = []

    def delivered() -> bool:  # a new rule reaches the broker's authorizer asynchronously
        producer = Producer(producer_config(good))  # a fresh client: no cached refusal
        try:
            producer.produce(topic, b"v", key=b"k",
                             on_delivery=lambda err, msg: answers.append(err))
            producer.flush(20)
        except KafkaException as exc:
            answers.append(exc)
            return False
        return bool(answers) and answers[-1] is None

    wait_until(delivered, "the token's subject allowed to write", 30,
               explain=lambda: f"last answers {answers[-3:]}")

    bad = oauth_client(secured, idp, "wrong")
    with pytest.raises(KafkaException):
        AdminClient({**admin_config(bad), "log_level": 0,
                     "socket.timeout.ms": 3000}).list_topics(timeout=8)


def test_the_faust_credentials_authenticate_aiokafka(
    secured: Settings, idp: str, wait_until: Callable[..., None]
) -> None:
    """What a stream worker does: Faust turns our credentials into aiokafka's auth settings."""
    import asyncio

    from aiokafka import AIOKafkaProducer
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    from nmc.infra.faust_broker import faust_credentials

    good = oauth_client(secured, idp, CLIENT_SECRET)
    auth = credentials_to_aiokafka_auth(faust_credentials(good))
    assert auth["security_protocol"] == "SASL_SSL"
    assert auth["sasl_mechanism"] == "OAUTHBEARER"
    topic = f"oauth-faust-{uuid.uuid4().hex[:8]}"
    topic_for_the_oidc_client(secured, topic)

    async def send() -> int:
        producer = AIOKafkaProducer(bootstrap_servers=good.kafka, **auth)
        await producer.start()
        try:
            meta = await producer.send_and_wait(topic, b"v", key=b"k")
            return int(meta.offset)
        finally:
            await producer.stop()

    offsets: list[int] = []

    def sent() -> bool:  # a new rule reaches the broker's authorizer asynchronously
        try:
            offsets.append(asyncio.run(send()))
        except Exception:
            return False
        return True

    wait_until(sent, "aiokafka to produce with the token's subject", 30)
    assert offsets == [0]
