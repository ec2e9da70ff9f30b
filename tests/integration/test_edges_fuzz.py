"""Property-based fuzzing of both HTTP apps against the real PostgreSQL: never a 5xx.

* schemathesis generates requests from each app's own OpenAPI document (the edge app: the
  JWT domain commands; the read API: every route) and calls the ASGI app in-process, with a
  valid bearer token of a real tenant so the requests reach validation and the database;
* hypothesis generates form-encoded Twilio bodies and JSON Stripe bodies — near-valid ones
  and garbage, NUL characters, huge integers, odd Unicode — and signs them correctly, since
  a provider with a valid signature can still send garbage.

Examples are bounded (`EXAMPLES` per operation / strategy) so the module stays within a
couple of minutes on a 2-core machine; hypothesis keeps no example database (`database=None`)
so runs do not depend on each other. Issue #14.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import schemathesis
from edges_support import (
    BASE_URL,
    CALLER,
    TENANT_NUMBER,
    bearer,
    make_settings,
    new_tenant,
    stripe_signature,
    twilio_post,
)
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error
from sqlalchemy import Engine, create_engine
from support.databases import scratch_database
from support.settings import PlatformSettings as Settings

from nmc.infra.db import make_engine
from nmc_streams.api.app import create_app as create_read_api
from nmc_streams.api.app import make_database as make_read_database
from nmc_streams.api.auth import issue_token
from nmc_streams.api.settings import ApiSettings
from producers.edges.app import create_edge_app
from producers.outcomes import Outcome
from producers.tenants import Tenant

EXAMPLES = 40  # per OpenAPI operation (one request each)
WEBHOOK_EXAMPLES = 200  # per webhook strategy (fast: no schema round trip)
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))
FUZZ_WEBHOOKS = settings(FUZZ, max_examples=WEBHOOK_EXAMPLES)
API_SECRET = "fuzz-read-api-secret-0123456789abcdef"
OUTCOMES = set(Outcome.__args__)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def fuzz_url(stack: Settings) -> Iterator[str]:
    """One database for the module (platform tables + read models): fuzzing needs state
    to accumulate, not isolation between examples."""
    with scratch_database(stack.database, prefix="nmc_fuzz") as url:
        yield url


@pytest.fixture(scope="module")
def fuzz_engine(fuzz_url: str) -> Iterator[Engine]:
    engine = make_engine(fuzz_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def fuzz_tenant(fuzz_engine: Engine) -> Tenant:
    return new_tenant(fuzz_engine, customer="cus_fuzz")


@pytest.fixture(scope="module")
def edge_app(fuzz_engine: Engine) -> FastAPI:
    return create_edge_app(make_settings(), fuzz_engine)


@pytest.fixture(scope="module")
def edge_client(edge_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(edge_app, base_url=BASE_URL) as client:
        yield client


@pytest.fixture(scope="module")
def read_api(fuzz_url: str, stack: Settings) -> Iterator[tuple[Any, ApiSettings]]:
    """The read API on the module's database behind one in-process client: its lifespan (the
    async pool, bound to the client's event loop) runs once for every case of the module."""
    from schemathesis.python import asgi

    api_settings = ApiSettings(jwt_secret=SecretStr(API_SECRET), db_pool_size=2)
    app = create_read_api(api_settings, stack.model_copy(
        update={"database_url": SecretStr(fuzz_url)}))
    with asgi.get_client(app) as client:
        yield client, api_settings


# --- schemathesis over the OpenAPI documents ---------------------------------------------


def _openapi(app: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", app)


# The OpenAPI documents do not depend on the database: they are read at collection from app
# instances on an engine that never connects; each case then calls the fixture's app, wired
# to the module's database (`case.call(app=...)`).
_UNUSED = create_engine("postgresql+psycopg://schema-only@127.0.0.1:1/unused")
edge_schema = _openapi(create_edge_app(make_settings(), _UNUSED))
_READ_SETTINGS = ApiSettings(jwt_secret=SecretStr(API_SECRET))
read_api_schema = _openapi(create_read_api(_READ_SETTINGS, database=make_read_database(
    "postgresql://schema-only@127.0.0.1:1/unused", _READ_SETTINGS)))


@edge_schema.parametrize()
@FUZZ
def test_edge_openapi_never_5xx(case: Any, fuzz_tenant: Tenant, edge_app: FastAPI) -> None:
    # A real tenant's token with a user: the request gets past authentication to the
    # bounds and the database (forged tokens are covered by test_edges_commands).
    headers = bearer(fuzz_tenant.tenant_id, uuid.uuid4())
    response = case.call(headers=headers, app=edge_app)
    case.validate_response(response, checks=[not_a_server_error])


@read_api_schema.parametrize()
@FUZZ
def test_read_api_openapi_never_5xx(case: Any, fuzz_tenant: Tenant,
                                    read_api: tuple[Any, ApiSettings]) -> None:
    token = issue_token(read_api[1], fuzz_tenant.tenant_id, 300)
    response = case.call(headers={"Authorization": f"Bearer {token}"}, session=read_api[0])
    case.validate_response(response, checks=[not_a_server_error])


# --- hypothesis: signed Twilio forms -------------------------------------------------------

# Any text a form can carry (no lone surrogates: a form body is UTF-8), with NUL, CR/LF and
# non-latin-1 characters over-represented.
_utf8 = st.text(st.characters(codec="utf-8"), max_size=12)
_hostile = st.tuples(_utf8, st.sampled_from(["\x00", "\r\n", "\n", "✓", "\u2028"]), _utf8
                     ).map("".join)
_any_text = _hostile | _utf8


def _mostly(valid: st.SearchStrategy[Any], other: st.SearchStrategy[Any] | None = None,
            odds: int = 4) -> st.SearchStrategy[Any]:
    """`valid` except one time in `odds` (so requests get past the tenant lookup to the
    deeper code), then `other` (default: arbitrary text). Shrinks towards `valid`."""
    garbage = _any_text if other is None else other
    return st.integers(1, odds).flatmap(lambda n: garbage if n == odds else valid)


_tenant_phone = _mostly(st.just(TENANT_NUMBER))
_caller_phone = _mostly(st.sampled_from([CALLER, "+13105551213", "+13105551214"]))
_sid = _mostly(st.from_regex(r"\A(CA|SM)[0-9a-f]{4}\Z"))
_call_status = _mostly(st.sampled_from(["no-answer", "busy", "failed", "completed",
                                        "in-progress", "ringing"]))
_msg_status = _mostly(st.sampled_from(["queued", "sent", "delivered", "undelivered",
                                       "failed", "read", "canceled"]))


def _form(**fields: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, str]]:
    """The fields (each missing one time in ten), plus up to two arbitrary parameters."""
    present = {name: st.integers(0, 9).flatmap(
        lambda n, s=strategy: st.none() if n == 9 else s) for name, strategy in fields.items()}
    return st.fixed_dictionaries(present).map(
        lambda d: {k: v for k, v in d.items() if v is not None}).flatmap(
        lambda base: _mostly(st.just({}), st.dictionaries(_any_text, _any_text, max_size=2)
                             ).map(lambda extra: {**extra, **base}))


_twilio_requests = st.one_of(
    st.tuples(st.just("/twilio/voice/status"), st.just(""),
              _form(CallSid=_sid, CallStatus=_call_status, From=_caller_phone,
                    To=_tenant_phone)),
    st.tuples(st.just("/twilio/sms"), st.just(""),
              _form(MessageSid=_sid, From=_caller_phone, To=_tenant_phone,
                    Body=_any_text)),
    st.tuples(st.just("/twilio/messages/status"),
              _mostly(st.uuids().map(str)).map(lambda m: urlencode({"mid": m})),
              _form(MessageSid=_sid, MessageStatus=_msg_status, From=_tenant_phone,
                    ErrorCode=_any_text)),
)


@FUZZ_WEBHOOKS
@given(request=_twilio_requests)
def test_signed_twilio_forms_never_5xx(edge_client: TestClient, fuzz_tenant: Tenant,
                                       request: tuple[str, str, dict[str, str]]) -> None:
    path, query, params = request
    response = twilio_post(edge_client, path, params, query=query)
    event(f"{path} -> {response.status_code}")  # coverage: --hypothesis-show-statistics
    assert response.status_code < 500, (path, params, response.text)
    if response.status_code == 200:
        assert response.headers["x-nmc-outcome"] in OUTCOMES


# --- hypothesis: signed Stripe JSON --------------------------------------------------------

_int = st.integers() | st.sampled_from([10**12, -(10**12), 2**63, 2**64, 0, -1])
_json_scalar = st.none() | st.booleans() | _int | st.floats(allow_nan=False) | \
    st.text(st.characters() | st.just("\x00"), max_size=20)  # lone surrogates, NUL
_json = st.recursive(_json_scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=8), inner, max_size=3), max_leaves=8)


def _stripe(*valid: Any) -> st.SearchStrategy[Any]:
    return _mostly(st.sampled_from(valid), _json, odds=12)


_extreme = st.sampled_from([10**12, -(10**12), 2**63, -(2**63), 2**64, 253_402_300_800]) | \
    st.integers(min_value=2**40) | st.integers(max_value=-(2**40))
_timestamp = _mostly(st.integers(1_700_000_000, 1_900_000_000), _extreme | _json, odds=4)


def _subscription_events() -> st.SearchStrategy[dict[str, Any]]:
    item = st.fixed_dictionaries({"price": st.fixed_dictionaries({
        "id": _stripe("price_pro", "price_basic", "price_unknown")})},
        optional={"current_period_end": _timestamp})
    sub = st.fixed_dictionaries(
        {"id": _stripe("sub_1", "sub_2"), "customer": _stripe("cus_fuzz", "cus_nobody"),
         "status": _stripe("active", "trialing", "canceled", "past_due", "paused"),
         "items": st.fixed_dictionaries({"data": _mostly(
             st.lists(item, min_size=1, max_size=2), _json, odds=12)}),
         "current_period_end": _mostly(_timestamp, st.none(), odds=3)})
    return st.fixed_dictionaries({
        "id": _mostly(st.from_regex(r"\Aevt_[a-z0-9]{8}\Z"), _json, odds=12),
        "type": _stripe("customer.subscription.updated", "customer.subscription.created",
                        "customer.subscription.deleted", "invoice.paid"),
        "created": _timestamp,
        "data": _mostly(st.fixed_dictionaries({"object": sub}), _json, odds=12),
    })


_stripe_bodies = _mostly(_subscription_events().map(json.dumps),
                         _json.map(json.dumps) | st.text(max_size=30))


@FUZZ_WEBHOOKS
@given(payload=_stripe_bodies)
def test_signed_stripe_json_never_5xx(edge_client: TestClient, fuzz_tenant: Tenant,
                                      payload: str) -> None:
    response = edge_client.post("/stripe/webhook", content=payload.encode(), headers={
        "Content-Type": "application/json", "Stripe-Signature": stripe_signature(payload)})
    event(f"stripe -> {response.status_code} "
          f"{response.json().get('outcome', '') if response.status_code == 200 else ''}")
    assert response.status_code < 500, (payload, response.text)
    if response.status_code == 200:
        assert response.json()["outcome"] in OUTCOMES


# --- the read API's query parameters at their extremes ------------------------------------

_EXTREME_READS = [
    "/v1/conversations?limit=9223372036854775808",
    "/v1/conversations?limit=-1",
    "/v1/conversations?cursor=%00",
    "/v1/conversations?cursor=" + "A" * 10_000,
    "/v1/conversations?status=open%00",
    "/v1/reports/daily?from=0001-01-01&to=0001-01-02",
    "/v1/reports/daily?from=9999-12-30&to=9999-12-31",
    "/v1/reports/daily?from=2026-01-01&to=99999-01-01",
    "/v1/resources/{rid}/appointments?from=0001-01-01T00:00:00%2B14:00"
    "&to=0001-01-02T00:00:00%2B14:00",
    "/v1/resources/{rid}/holds?from=9999-12-30T00:00:00-14:00&to=9999-12-31T23:59:59-14:00",
    "/v1/resources/{rid}/holds?from=2026-01-01T00:00:00%00Z&to=2026-01-02T00:00:00Z",
    "/v1/compliance/campaigns/00000000-0000-0000-0000-00000000000%00",
]


@pytest.mark.parametrize("path", _EXTREME_READS)
def test_read_api_extreme_query_values_are_never_5xx(
        path: str, fuzz_tenant: Tenant, read_api: tuple[Any, ApiSettings]) -> None:
    token = issue_token(read_api[1], fuzz_tenant.tenant_id, 300)
    response = read_api[0].get(path.format(rid=uuid.uuid4()),
                               headers={"Authorization": f"Bearer {token}"})
    assert response.status_code < 500, response.text
