"""OAUTHBEARER end to end: a secured broker that verifies OIDC tokens against a JWKS, and
clients that get them by the client-credentials grant (librdkafka `oidc`, aiokafka through our
token provider). A loopback stand-in plays the identity provider: token and JWKS endpoints,
RS256 JWTs signed with a key generated for the run."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest
from cluster_support import extra_kafka
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr
from support.settings import PlatformSettings as Settings
from support.waits import wait_until

from nmc.acl.admin import binding
from nmc.acl.model import AclEntry
from nmc.infra.connection import ConnectionSettings
from nmc.infra.kafka_clients import admin_config, producer_config

pytestmark = pytest.mark.xdist_group("extra-ports")  # ports of the main stack + 2..

CLIENT_ID, CLIENT_SECRET = "nmc-relay", "oidc-s3cret"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class _Idp(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # JWKS
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
        self._send(200, {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]})

    def do_POST(self) -> None:  # token endpoint, client credentials
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        header = self.headers.get("Authorization", "")
        login = base64.b64decode(header.split()[1]).decode() if header else ""
        if form.get("grant_type") != ["client_credentials"] or (
            login != f"{CLIENT_ID}:{CLIENT_SECRET}"
        ):
            self._send(401, {"error": "invalid_client"})
            return
        now = int(time.time())
        claims = {"sub": CLIENT_ID, "iat": now, "exp": now + 600, "scope": "kafka"}
        token = jwt.encode(claims, KEY, algorithm="RS256", headers={"kid": "k1"})
        self._send(200, {"access_token": token, "token_type": "Bearer", "expires_in": 600})

    def _send(self, status: int, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def idp() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Idp)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="module")
def oauth_kafka(stack: Settings, idp: str) -> Iterator[Settings]:
    with extra_kafka(stack, "oauth", secure=True, oauth_jwks_url=f"{idp}/jwks") as settings:
        yield settings


def _oauth(settings: Settings, idp: str, secret: str) -> Settings:
    scram = settings.connection
    conn = ConnectionSettings(
        kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="OAUTHBEARER",
        kafka_ssl_ca_location=scram.kafka_ssl_ca_location,
        kafka_oauth_token_endpoint_url=f"{idp}/token", kafka_oauth_client_id=CLIENT_ID,
        kafka_oauth_client_secret=SecretStr(secret), kafka_oauth_scope="kafka",
    )
    return settings.model_copy(update={"connection": conn})


def _topic_for_the_oidc_client(settings: Settings, topic: str) -> None:
    """The admin creates `topic` and allows the token's subject to write it: under --secure no
    rule means no access (`allow.everyone.if.no.acl.found=false`), and only the admin creates."""
    from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]

    admin = AdminClient({**admin_config(settings), "log_level": 0})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=15)
    rules = [binding(AclEntry(CLIENT_ID, "TOPIC", "LITERAL", topic, op))
             for op in ("WRITE", "DESCRIBE")]
    for future in admin.create_acls(rules).values():
        future.result(timeout=15)


def test_an_oidc_client_produces_and_a_wrong_secret_is_refused(
    oauth_kafka: Settings, idp: str
) -> None:
    good = _oauth(oauth_kafka, idp, CLIENT_SECRET)
    topic = f"oauth-{uuid.uuid4().hex[:8]}"
    _topic_for_the_oidc_client(oauth_kafka, topic)
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

    bad = _oauth(oauth_kafka, idp, "wrong")
    with pytest.raises(KafkaException):
        AdminClient({**admin_config(bad), "log_level": 0,
                     "socket.timeout.ms": 3000}).list_topics(timeout=8)


def test_the_faust_credentials_authenticate_aiokafka(oauth_kafka: Settings, idp: str) -> None:
    """What a stream worker does: Faust turns our credentials into aiokafka's auth settings."""
    import asyncio

    from aiokafka import AIOKafkaProducer
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    from nmc.infra.faust_broker import faust_credentials

    good = _oauth(oauth_kafka, idp, CLIENT_SECRET)
    auth = credentials_to_aiokafka_auth(faust_credentials(good))
    assert auth["security_protocol"] == "SASL_SSL"
    assert auth["sasl_mechanism"] == "OAUTHBEARER"
    topic = f"oauth-faust-{uuid.uuid4().hex[:8]}"
    _topic_for_the_oidc_client(oauth_kafka, topic)

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
