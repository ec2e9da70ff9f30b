"""The Faust/aiokafka OAUTHBEARER token provider against a loopback OIDC token endpoint.

librdkafka does the client-credentials grant itself (`sasl.oauthbearer.method=oidc`); aiokafka
does not, so `ClientCredentialsTokenProvider` does it for the stream workers. A real HTTP
server on loopback plays the identity provider (no Kafka needed).
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from pydantic import SecretStr

from nmc.infra.connection import ConnectionSettings
from nmc.infra.faust_broker import ClientCredentialsTokenProvider


class _Idp(BaseHTTPRequestHandler):
    grants: list[dict[str, object]] = []  # noqa: RUF012 - shared by the test and the handler

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        login = base64.b64decode(self.headers["Authorization"].split()[1]).decode()
        self.grants.append({"form": form, "login": login})
        ok = login == "nmc-worker:s3cret"
        body = json.dumps(
            {"access_token": f"token-{len(self.grants)}", "token_type": "Bearer",
             "expires_in": 3600} if ok else {"error": "invalid_client"}
        ).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def idp() -> Iterator[str]:
    _Idp.grants = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Idp)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/token"
    server.shutdown()
    server.server_close()
    thread.join()


def _conn(url: str, secret: str) -> ConnectionSettings:
    return ConnectionSettings(
        kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="OAUTHBEARER",
        kafka_oauth_token_endpoint_url=url, kafka_oauth_client_id="nmc-worker",
        kafka_oauth_client_secret=SecretStr(secret), kafka_oauth_scope="kafka",
    )


def test_client_credentials_grant_and_cached_token(idp: str) -> None:
    provider = ClientCredentialsTokenProvider(_conn(idp, "s3cret"))

    async def twice() -> tuple[str, str]:
        return await provider.token(), await provider.token()

    first, second = asyncio.run(twice())
    assert first == second == "token-1"  # cached until shortly before it expires
    assert _Idp.grants == [{
        "form": {"grant_type": "client_credentials", "scope": "kafka"},
        "login": "nmc-worker:s3cret",
    }]


def test_a_refused_client_raises(idp: str) -> None:
    import httpx

    provider = ClientCredentialsTokenProvider(_conn(idp, "wrong"))
    with pytest.raises(httpx.HTTPStatusError):
        asyncio.run(provider.token())
