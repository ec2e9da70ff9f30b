"""The Faust/aiokafka side of `ConnectionSettings`: broker URLs and credentials.

Stream apps pass `broker=faust_broker(settings)` and `broker_credentials=faust_credentials(...)`
to `faust.App`, so they connect with exactly the security the librdkafka clients use.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from aiokafka.conn import AbstractTokenProvider
from faust.auth import OAuthCredentials, SASLCredentials, SSLCredentials
from faust.types.auth import CredentialsT

from nmc.infra.connection import ConnectionSettings, ssl_context
from nmc.infra.settings import ServiceSettings

TOKEN_REFRESH_MARGIN_S = 30.0


def faust_broker(settings: ServiceSettings) -> list[str]:
    """`kafka://host:port` per bootstrap server (Faust takes a list for several brokers)."""
    return [f"kafka://{h.strip()}" for h in settings.kafka.split(",") if h.strip()]


class ClientCredentialsTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
    """OIDC client-credentials grant for aiokafka's OAUTHBEARER (librdkafka does it natively).

    The token is cached until shortly before it expires.
    """

    def __init__(self, conn: ConnectionSettings) -> None:
        self._conn = conn
        self._token: str | None = None
        self._expires_at = 0.0

    async def token(self) -> str:
        if self._token is not None and time.monotonic() < self._expires_at:
            return self._token
        conn = self._conn
        secret = conn.kafka_oauth_client_secret
        data = {"grant_type": "client_credentials"}
        if conn.kafka_oauth_scope:
            data["scope"] = conn.kafka_oauth_scope
        async with httpx.AsyncClient(timeout=10.0) as http:
            resp = await http.post(
                str(conn.kafka_oauth_token_endpoint_url),
                data=data,
                auth=(
                    str(conn.kafka_oauth_client_id),
                    secret.get_secret_value() if secret is not None else "",
                ),
            )
        resp.raise_for_status()
        body: dict[str, Any] = resp.json()
        self._token = str(body["access_token"])
        lifetime = float(body.get("expires_in", 300))
        self._expires_at = time.monotonic() + max(lifetime - TOKEN_REFRESH_MARGIN_S, 1.0)
        return self._token


def faust_credentials(settings: ServiceSettings) -> CredentialsT | None:
    """Faust `broker_credentials` for the configured protocol (None for PLAINTEXT)."""
    conn = settings.connection
    context = ssl_context(conn)
    mech = conn.kafka_sasl_mechanism
    if conn.uses_sasl and mech == "OAUTHBEARER":
        return OAuthCredentials(
            oauth_cb=ClientCredentialsTokenProvider(conn), ssl_context=context
        )
    if conn.uses_sasl and mech is not None:
        password = conn.kafka_sasl_password
        return SASLCredentials(
            username=conn.kafka_sasl_username,
            password=password.get_secret_value() if password is not None else None,
            ssl_context=context,
            mechanism=mech,
        )
    if context is not None:
        return SSLCredentials(context)
    return None
