"""A loopback stand-in for an OIDC identity provider (token and JWKS endpoints, RS256 JWTs
signed with a key generated for the run) and the client settings that use it: the OAUTHBEARER
tests of the secured cluster (test_cluster_secure.py)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import jwt
from confluent_kafka.admin import AdminClient
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from nmc.acl.admin import binding
from nmc.acl.model import AclEntry
from nmc.infra.connection import ConnectionSettings
from nmc.infra.kafka_clients import admin_config
from nmc.infra.settings import Settings

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


@contextmanager
def serve_idp() -> Iterator[str]:
    """The identity provider on a free loopback port; yields its base URL (JWKS at `/jwks`)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Idp)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def oauth_client(settings: Settings, idp: str, secret: str) -> Settings:
    scram = settings.connection
    conn = ConnectionSettings(
        kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="OAUTHBEARER",
        kafka_ssl_ca_location=scram.kafka_ssl_ca_location,
        kafka_oauth_token_endpoint_url=f"{idp}/token", kafka_oauth_client_id=CLIENT_ID,
        kafka_oauth_client_secret=SecretStr(secret), kafka_oauth_scope="kafka",
    )
    return settings.model_copy(update={"connection": conn})


def topic_for_the_oidc_client(settings: Settings, topic: str) -> None:
    """The admin creates `topic` and allows the token's subject to write it: under --secure no
    rule means no access (`allow.everyone.if.no.acl.found=false`), and only the admin creates."""
    from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]

    admin = AdminClient({**admin_config(settings), "log_level": 0})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=15)
    rules = [binding(AclEntry(CLIENT_ID, "TOPIC", "LITERAL", topic, op))
             for op in ("WRITE", "DESCRIBE")]
    for future in admin.create_acls(rules).values():
        future.result(timeout=15)
