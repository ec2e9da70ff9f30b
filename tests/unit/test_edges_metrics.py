"""The edge service's `/metrics`: requests by route template and status, webhooks by outcome,
answered without a database (a refused webhook never reaches PostgreSQL, nor does a Stripe event
of a type the edge ignores)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine

from producers.edges.app import create_edge_app
from producers.edges.settings import EdgeSettings

pytestmark = pytest.mark.anyio
SETTINGS = EdgeSettings(
    public_base_url="http://edge.test", twilio_auth_token=SecretStr("t" * 32),
    stripe_webhook_secret=SecretStr("whsec_test"), jwt_secret=SecretStr("j" * 32),
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")  # never connected
    app = create_edge_app(SETTINGS, engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://edge.test") as c:
        yield c
    engine.dispose()


async def test_metrics_count_requests_by_route_template_and_status(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/healthz")).status_code == 200
    refused = await client.post("/twilio/sms", data={"From": "+15550001111"})
    assert refused.status_code in (400, 401, 403)

    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    body = response.text
    assert 'nmc_edge_requests_total{method="GET",route="/healthz",status="200"} 1.0' in body
    assert (f'nmc_edge_requests_total{{method="POST",route="/twilio/sms",'
            f'status="{refused.status_code}"}} 1.0') in body
    assert 'nmc_edge_request_duration_seconds_count{method="GET",route="/healthz"} 1.0' in body


async def test_metrics_are_not_part_of_the_openapi_document(client: httpx.AsyncClient) -> None:
    assert "/metrics" not in (await client.get("/openapi.json")).json()["paths"]


async def test_webhook_answers_are_counted_by_their_outcome(client: httpx.AsyncClient) -> None:
    # a signed Stripe event of a type we do not handle: answered without any transaction
    payload = json.dumps({"id": "evt_1", "type": "charge.succeeded", "data": {"object": {}}})
    t = int(time.time())
    mac = hmac.new(b"whsec_test", f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    answer = await client.post("/stripe/webhook", content=payload, headers={
        "Content-Type": "application/json", "Stripe-Signature": f"t={t},v1={mac}"})
    assert answer.status_code == 200
    assert answer.headers["x-nmc-outcome"] == "ignored-event-type"

    refused = await client.post("/stripe/webhook", content=payload, headers={
        "Content-Type": "application/json", "Stripe-Signature": f"t={t},v1={'0' * 64}"})
    assert refused.status_code in (400, 401, 403)

    body = (await client.get("/metrics")).text
    outcomes = [line for line in body.splitlines()
                if line.startswith("nmc_edge_webhook_outcomes_total{")]
    # the refusal carries no outcome: it counts in nmc_edge_requests_total by status only
    assert outcomes == ['nmc_edge_webhook_outcomes_total{outcome="ignored-event-type",'
                        'route="/stripe/webhook"} 1.0']


async def test_every_route_has_a_latency_series_from_the_first_request(
    client: httpx.AsyncClient,
) -> None:
    """A route's first call must be a rate() > 0: its series exists at zero before it."""
    body = (await client.get("/metrics")).text
    for method, route in (("POST", "/twilio/voice/status"), ("POST", "/stripe/webhook"),
                          ("PUT", "/v1/catalog/items/{item_id}")):
        assert (f'nmc_edge_request_duration_seconds_count{{method="{method}",'
                f'route="{route}"}} 0.0') in body
    assert 'method="HEAD"' not in body
