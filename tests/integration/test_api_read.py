"""The read API against real PostgreSQL: tenancy, authentication, validation, pagination,
readiness.

One database per module, seeded directly with read-model rows (the API is under test, not
the stream apps). The API is read-only (its sessions are `default_transaction_read_only`),
so sharing the seeded database between the tests of this module cannot couple them.

Seed layout (ids collide on purpose, so only the tenant filter can tell rows apart):
* tenant A and tenant B each own conversations, messages, holds, appointments, facts,
  a campaign and a subscription;
* B owns a conversation with the *same conversation_id* as one of A's, and appointments and
  holds on A's resource id;
* tenant C owns 137 conversations with many equal `last_activity_at` (pagination ties) and
  nothing else (no subscription: 404 while others have one);
* tenant D owns conversations with awkward values for the JSON PostgreSQL renders: microsecond
  timestamps and ties, NULLs, quotes, backslashes, control characters and non-ASCII text,
  auto-reply decisions. Its second conversation is the one a test changes (tags move).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, SecretStr
from sqlalchemy import insert, select, text, update
from support import api_reference
from support.databases import scratch_database
from support.settings import PlatformSettings as Settings

from nmc.infra.db import make_engine
from nmc_streams import db as read_models
from nmc_streams.api.app import create_app, make_database, route_paths
from nmc_streams.api.auth import issue_token
from nmc_streams.api.cursor import decode
from nmc_streams.api.models import (
    Appointments,
    CampaignCompliance,
    CampaignList,
    ConversationDetail,
    ConversationPage,
    DailyReports,
    Holds,
    Subscription,
)
from nmc_streams.api.settings import ApiSettings
from nmc_streams.conversation import app as conversation_app

pytestmark = pytest.mark.anyio

SECRET = "integration-test-secret-0123456789abcdef"
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
DAY0 = date(2026, 3, 2)
PUBLIC_ROUTES = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs",
                 "/docs/oauth2-redirect", "/redoc"}


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


def _uid() -> str:
    return str(uuid.uuid4())


@dataclass
class TenantSeed:
    tenant_id: str
    resource_id: str
    conversations: list[str] = field(default_factory=list)
    messages: dict[str, list[str]] = field(default_factory=dict)
    holds: list[str] = field(default_factory=list)
    appointments: list[str] = field(default_factory=list)
    campaigns: list[str] = field(default_factory=list)
    missed_calls_day0: int = 0
    plan: str | None = None


@dataclass
class Seed:
    a: TenantSeed
    b: TenantSeed
    c: TenantSeed
    d: TenantSeed
    shared_conversation_id: str


def _conv_row(tenant: str, cid: str, at: datetime, status: str, phone: str,
                  count: int = 0) -> dict[str, Any]:
    return {"tenant_id": tenant, "conversation_id": cid, "correlation_id": _uid(),
            "caller_phone": phone, "status": status, "started_at": at - timedelta(hours=1),
            "last_activity_at": at, "opened_by_call_id": None, "takeover_user_id": None,
            "takeover_at": None, "message_count": count, "version": 1}


def _msg_row(tenant: str, cid: str, n: int, body: str) -> dict[str, Any]:
    return {"tenant_id": tenant, "message_id": _uid(), "conversation_id": cid,
            "correlation_id": _uid(), "direction": "in" if n % 2 == 0 else "out",
            "status": "delivered", "status_at": T0 + timedelta(minutes=n),
            "first_seen_at": T0 + timedelta(minutes=n), "from_phone": "+15550000001",
            "to_phone": "+15550000002", "body": body, "provider_ref": f"SM{n}",
            "error_code": None, "version": 1}


def _slot(tenant: str, resource: str, n: int) -> tuple[dict[str, Any], dict[str, Any]]:
    start = T0 + timedelta(hours=n)
    hold = {"tenant_id": tenant, "hold_id": _uid(), "correlation_id": _uid(),
            "resource_id": resource, "start_at": start, "end_at": start + timedelta(minutes=30),
            "status": "booked", "held_at": start - timedelta(days=1), "released_at": None,
            "appointment_id": None, "version": 1}
    appt = {"tenant_id": tenant, "appointment_id": _uid(), "correlation_id": _uid(),
            "resource_id": resource, "start_at": start, "end_at": start + timedelta(minutes=30),
            "service_item_id": None, "customer_phone": "+15550000003",
            "hold_id": hold["hold_id"], "status": "booked", "booked_at": start,
            "cancelled_at": None, "cancelled_reason": None, "version": 1}
    hold["appointment_id"] = appt["appointment_id"]
    return hold, appt


def _seed_tenant(rows: dict[str, list[dict[str, Any]]], seed: TenantSeed, phone: str,
                 n_conv: int, missed: int, plan: str | None, extra_resource: str | None,
                 shared_cid: str | None = None) -> None:
    t = seed.tenant_id
    for i in range(n_conv):
        cid = shared_cid if (i == 0 and shared_cid) else _uid()
        seed.conversations.append(cid)
        rows["conv_conversations"].append(
            _conv_row(t, cid, T0 + timedelta(minutes=i), "open" if i % 2 else "closed",
                          phone, 2))
        msgs = [_msg_row(t, cid, n, f"{phone}-{i}-{n}") for n in range(2)]
        seed.messages[cid] = [m["message_id"] for m in msgs]
        rows["conv_messages"].extend(msgs)
    for resource in filter(None, (seed.resource_id, extra_resource)):
        for n in range(3):
            hold, appt = _slot(t, resource, n)
            rows["sched_holds"].append(hold)
            rows["sched_appointments"].append(appt)
            if resource == seed.resource_id:
                seed.holds.append(hold["hold_id"])
                seed.appointments.append(appt["appointment_id"])
    for n in range(missed):
        rows["rpt_facts"].append({"tenant_id": t, "metric": "missed_call", "entity_id": _uid(),
                                  "day": DAY0, "dimension": "busy", "correlation_id": _uid(),
                                  "version": 1})
    seed.missed_calls_day0 = missed
    campaign = _uid()
    seed.campaigns.append(campaign)
    rows["rpt_compliance"].append({"tenant_id": t, "campaign_id": campaign, "status": "approved",
                                   "changed_at": T0, "event_id": _uid()})
    if plan is not None:
        seed.plan = plan
        rows["rpt_subscriptions"].append({
            "tenant_id": t, "status": "active", "plan": plan, "stripe_customer_id": f"cus_{plan}",
            "stripe_subscription_id": f"sub_{plan}", "current_period_end": T0 + timedelta(30),
            "changed_at": T0, "event_id": _uid()})


AWKWARD = 'say "hi" \\ back\n\t\x01\x1f\x7f / é ü 你好 😀 \u2028'


def _seed_awkward(rows: dict[str, list[dict[str, Any]]], seed: TenantSeed
                  ) -> list[dict[str, Any]]:
    """Tenant D's rows (see the module docstring); returns its conversation_reactions."""
    t = seed.tenant_id
    reactions = []
    for i in range(9):
        cid = _uid()
        seed.conversations.append(cid)
        at = T0 + timedelta(seconds=i // 3, microseconds=(0, 1, 123456)[i % 3])
        row = _conv_row(t, cid, at, "open" if i % 2 else "closed", f"+1555{AWKWARD}{i}", 3)
        if i % 2:
            row |= {"opened_by_call_id": _uid(), "takeover_user_id": _uid(),
                    "takeover_at": at + timedelta(microseconds=10)}
        rows["conv_conversations"].append(row)
        msgs = [_msg_row(t, cid, n, AWKWARD * n) for n in range(3)]
        msgs[0] |= {"direction": None, "status": None, "status_at": None, "from_phone": None,
                    "to_phone": None, "body": None, "error_code": None}
        msgs[1] |= {"status": "failed", "error_code": "30003", "first_seen_at": T0}
        msgs[2] |= {"first_seen_at": T0, "status_at": T0 + timedelta(microseconds=999999)}
        seed.messages[cid] = [m["message_id"] for m in msgs]
        rows["conv_messages"].extend(msgs)
        decision = (None, "queued", "suppressed")[i % 3]
        reactions.append({"t": t, "c": cid, "e": _uid(), "decision": decision,
                          "reason": AWKWARD if decision == "suppressed" else None,
                          "message_id": _uid() if decision == "queued" else None})
    return reactions


@pytest.fixture(scope="module")
def seeded_url(stack: Settings) -> Iterator[tuple[str, Seed]]:
    with scratch_database(stack.database, prefix="nmc_api_test") as url:
        a = TenantSeed(_uid(), _uid())
        b = TenantSeed(_uid(), _uid())
        c = TenantSeed(_uid(), _uid())
        shared = _uid()
        rows: dict[str, list[dict[str, Any]]] = {name: [] for name in (
            "conv_conversations", "conv_messages", "sched_holds", "sched_appointments",
            "rpt_facts", "rpt_compliance", "rpt_subscriptions")}
        _seed_tenant(rows, a, "+15551110000", 5, 2, "basic", None, shared)
        _seed_tenant(rows, b, "+15552220000", 7, 9, "pro", a.resource_id, shared)
        # tenant C: 137 conversations, groups of 10 share last_activity_at (keyset ties)
        for i in range(137):
            cid = _uid()
            c.conversations.append(cid)
            rows["conv_conversations"].append(_conv_row(
                c.tenant_id, cid, T0 + timedelta(minutes=i // 10), random.choice(
                    ["open", "closed"]), "+15553330000"))
        d = TenantSeed(_uid(), _uid())
        reactions = _seed_awkward(rows, d)
        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                for name, values in rows.items():
                    if values:
                        conn.execute(insert(read_models.metadata.tables[name]), values)
                conn.execute(text(
                    "INSERT INTO conversation_reactions (tenant_id, correlation_id, "
                    "started_event_id, auto_reply, auto_reply_reason, auto_reply_message_id) "
                    "VALUES (:t, :c, :e, :decision, :reason, :message_id)"), reactions)
        finally:
            engine.dispose()
        yield url, Seed(a, b, c, d, shared)


@pytest.fixture(scope="module")
def api_settings() -> ApiSettings:
    return ApiSettings(jwt_secret=SecretStr(SECRET), page_size_default=20, page_size_max=50,
                       db_pool_size=2)


@pytest.fixture
async def app(seeded_url: tuple[str, Seed], api_settings: ApiSettings) -> AsyncIterator[FastAPI]:
    """Per test: the pool lives on the event loop of the test that opened it."""
    database = make_database(seeded_url[0], api_settings)
    yield create_app(api_settings, database=database)
    await database.close()


@pytest.fixture(scope="module")
def seed(seeded_url: tuple[str, Seed]) -> Seed:
    return seeded_url[1]


@asynccontextmanager
async def client_for(app: FastAPI, tenant_id: str | None = None,
                     settings: ApiSettings | None = None) -> AsyncIterator[httpx.AsyncClient]:
    headers = {}
    if tenant_id is not None:
        assert settings is not None
        headers["Authorization"] = f"Bearer {issue_token(settings, uuid.UUID(tenant_id), 300)}"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://api", headers=headers) as client:
        yield client


def _v1_routes(app: FastAPI) -> list[str]:
    """Collected from the app itself (included routers flattened), not from a list here."""
    return sorted(p for p in route_paths(app) if p.startswith("/v1/"))


# --- cross-tenant: every route -------------------------------------------------------------

WINDOW = {"from": (T0 - timedelta(days=1)).isoformat(), "to": (T0 + timedelta(days=1)).isoformat()}
Check = Callable[[httpx.AsyncClient, Seed], Awaitable[None]]


async def _walk(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        q = {**params, **({"cursor": cursor} if cursor else {})}
        r = await client.get("/v1/conversations", params=q)
        assert r.status_code == 200, r.text
        items.extend(r.json()["items"])
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


async def _conversations(client: httpx.AsyncClient, s: Seed) -> None:
    for status in (None, "open", "closed"):
        got = await _walk(client, **({"status": status} if status else {}), limit=2)
        ids = {i["conversation_id"] for i in got}
        assert ids <= set(s.a.conversations)
        phones = {i["caller_phone"] for i in got}
        assert phones <= {"+15551110000"}
        if status is None:
            assert ids == set(s.a.conversations)
    assert not set(s.b.conversations) - {s.shared_conversation_id} & ids


async def _conversation(client: httpx.AsyncClient, s: Seed) -> None:
    own = await client.get(f"/v1/conversations/{s.shared_conversation_id}")
    assert own.status_code == 200, own.text
    body = own.json()
    assert body["caller_phone"] == "+15551110000"  # A's row, not B's with the same id
    assert [m["message_id"] for m in body["messages"]] == s.a.messages[s.shared_conversation_id]
    for cid in s.b.conversations[1:]:
        r = await client.get(f"/v1/conversations/{cid}")
        assert r.status_code == 404, r.text
        assert r.json()["errors"][0]["field"] == "conversation_id"


async def _appointments(client: httpx.AsyncClient, s: Seed) -> None:
    own = await client.get(f"/v1/resources/{s.a.resource_id}/appointments", params=WINDOW)
    assert own.status_code == 200, own.text
    assert sorted(i["appointment_id"] for i in own.json()["items"]) == sorted(s.a.appointments)
    other = await client.get(f"/v1/resources/{s.b.resource_id}/appointments", params=WINDOW)
    assert other.status_code == 200 and other.json()["items"] == []


async def _holds(client: httpx.AsyncClient, s: Seed) -> None:
    own = await client.get(f"/v1/resources/{s.a.resource_id}/holds", params=WINDOW)
    assert own.status_code == 200, own.text
    assert sorted(i["hold_id"] for i in own.json()["items"]) == sorted(s.a.holds)
    other = await client.get(f"/v1/resources/{s.b.resource_id}/holds", params=WINDOW)
    assert other.status_code == 200 and other.json()["items"] == []


async def _daily(client: httpx.AsyncClient, s: Seed) -> None:
    r = await client.get("/v1/reports/daily", params={"from": str(DAY0 - timedelta(1)),
                                                      "to": str(DAY0 + timedelta(1))})
    assert r.status_code == 200, r.text
    days = {d["day"]: d for d in r.json()["days"]}
    assert len(days) == 3
    assert days[str(DAY0)]["missed_calls"] == s.a.missed_calls_day0 != s.b.missed_calls_day0
    assert days[str(DAY0 - timedelta(1))]["missed_calls"] == 0


async def _campaigns(client: httpx.AsyncClient, s: Seed) -> None:
    r = await client.get("/v1/compliance/campaigns")
    assert r.status_code == 200, r.text
    assert [i["campaign_id"] for i in r.json()["items"]] == s.a.campaigns


async def _campaign(client: httpx.AsyncClient, s: Seed) -> None:
    own = await client.get(f"/v1/compliance/campaigns/{s.a.campaigns[0]}")
    assert own.status_code == 200, own.text
    other = await client.get(f"/v1/compliance/campaigns/{s.b.campaigns[0]}")
    assert other.status_code == 404, other.text
    assert other.json()["errors"][0]["field"] == "campaign_id"


async def _subscription(client: httpx.AsyncClient, s: Seed) -> None:
    r = await client.get("/v1/subscription")
    assert r.status_code == 200, r.text
    assert r.json()["plan"] == s.a.plan != s.b.plan


CROSS_TENANT: dict[str, Check] = {
    "/v1/conversations": _conversations,
    "/v1/conversations/{conversation_id}": _conversation,
    "/v1/resources/{resource_id}/appointments": _appointments,
    "/v1/resources/{resource_id}/holds": _holds,
    "/v1/reports/daily": _daily,
    "/v1/compliance/campaigns": _campaigns,
    "/v1/compliance/campaigns/{campaign_id}": _campaign,
    "/v1/subscription": _subscription,
}


async def test_every_v1_route_has_a_cross_tenant_case(app: FastAPI) -> None:
    """A new route without a tenancy case fails here, so it cannot escape the check."""
    assert set(_v1_routes(app)) == set(CROSS_TENANT)


async def test_every_other_route_is_a_known_public_one(app: FastAPI) -> None:
    paths = route_paths(app)
    assert {p for p in paths if not p.startswith("/v1/")} <= PUBLIC_ROUTES
    assert all(paths[p] <= {"GET", "HEAD"} for p in paths), "the read API only reads"


@pytest.mark.parametrize("path", sorted(CROSS_TENANT))
async def test_tenant_a_never_sees_tenant_b(app: FastAPI, seed: Seed, api_settings: ApiSettings,
                                           path: str) -> None:
    async with client_for(app, seed.a.tenant_id, api_settings) as client:
        # a tenant in a parameter is ignored: the token alone selects the tenant
        client.params = client.params.set("tenant_id", seed.b.tenant_id)
        await CROSS_TENANT[path](client, seed)


async def test_a_tenant_without_data_sees_nothing(app: FastAPI, seed: Seed,
                                                  api_settings: ApiSettings) -> None:
    async with client_for(app, _uid(), api_settings) as client:
        assert (await client.get("/v1/conversations")).json()["items"] == []
        assert (await client.get("/v1/compliance/campaigns")).json()["items"] == []
        assert (await client.get("/v1/subscription")).status_code == 404
        r = await client.get(f"/v1/resources/{seed.a.resource_id}/holds", params=WINDOW)
        assert r.json()["items"] == []


# --- response shapes ------------------------------------------------------------------------

SHAPES: dict[str, tuple[type[BaseModel], Callable[[Seed], tuple[str, dict[str, Any]]]]] = {
    "/v1/conversations": (ConversationPage, lambda s: ("/v1/conversations", {"limit": 2})),
    "/v1/conversations/{conversation_id}": (
        ConversationDetail, lambda s: (f"/v1/conversations/{s.shared_conversation_id}", {})),
    "/v1/resources/{resource_id}/appointments": (
        Appointments, lambda s: (f"/v1/resources/{s.a.resource_id}/appointments", WINDOW)),
    "/v1/resources/{resource_id}/holds": (
        Holds, lambda s: (f"/v1/resources/{s.a.resource_id}/holds", WINDOW)),
    "/v1/reports/daily": (DailyReports, lambda s: ("/v1/reports/daily", {
        "from": str(DAY0 - timedelta(1)), "to": str(DAY0 + timedelta(1))})),
    "/v1/compliance/campaigns": (CampaignList, lambda s: ("/v1/compliance/campaigns", {})),
    "/v1/compliance/campaigns/{campaign_id}": (
        CampaignCompliance, lambda s: (f"/v1/compliance/campaigns/{s.a.campaigns[0]}", {})),
    "/v1/subscription": (Subscription, lambda s: ("/v1/subscription", {})),
}


@pytest.mark.parametrize("path", sorted(SHAPES))
async def test_bodies_are_exactly_what_the_response_model_gives(
        app: FastAPI, seed: Seed, api_settings: ApiSettings, path: str) -> None:
    """Routes serialise driver rows once, without building the model: the body must still
    be the model's own JSON (same fields, types, formats: a round trip changes nothing)."""
    assert set(SHAPES) == set(_v1_routes(app))
    model, request = SHAPES[path]
    url, params = request(seed)
    async with client_for(app, seed.a.tenant_id, api_settings) as client:
        r = await client.get(url, params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    # `from`/`to` are serialisation aliases of `start`/`end`
    names = {"from": "start", "to": "end"}
    again = model.model_validate({names.get(k, k): v for k, v in body.items()}
                                 ).model_dump(mode="json", by_alias=True)
    assert again == body
    assert json.dumps(again) != "{}"


# --- rendered bodies: the old bytes, conditional GET ---------------------------------------

async def _reference(app: FastAPI, fn: Callable[..., Awaitable[bytes | None]],
                     *args: Any) -> bytes | None:
    async with app.state.db.connection() as conn:
        return await fn(conn, *args)


@pytest.mark.parametrize("tenant", ["a", "b", "c", "d"])
async def test_conversation_bodies_are_byte_for_byte_the_old_ones(
        app: FastAPI, seed: Seed, api_settings: ApiSettings, tenant: str) -> None:
    """PostgreSQL renders the conversation bodies now: every page (each status, several
    sizes, walked through its cursors) and every detail must be the very bytes the Python
    serialisation gave, including the awkward values of tenant D."""
    s: TenantSeed = getattr(seed, tenant)
    tid = uuid.UUID(s.tenant_id)
    async with client_for(app, s.tenant_id, api_settings) as client:
        for status in (None, "open", "closed"):
            for limit in (2, 7, 50):
                cursor = None
                for _ in range(100):
                    q = {"limit": limit, **({"status": status} if status else {}),
                         **({"cursor": cursor} if cursor else {})}
                    r = await client.get("/v1/conversations", params=q)
                    assert r.status_code == 200, r.text
                    after = None if cursor is None else decode(cursor)
                    assert r.content == await _reference(app, api_reference.page, tid, status,
                                                         after, limit), q
                    cursor = r.json()["next_cursor"]
                    if cursor is None:
                        break
        default = await client.get("/v1/conversations")
        assert default.content == await _reference(app, api_reference.page, tid, None, None,
                                                   api_settings.page_size_default)
        for cid in s.conversations:
            r = await client.get(f"/v1/conversations/{cid}")
            assert r.status_code == 200, r.text
            assert r.content == await _reference(app, api_reference.detail, tid,
                                                 uuid.UUID(cid)), cid
            ConversationDetail.model_validate_json(r.content)


def _conditional_urls(s: Seed) -> list[tuple[str, dict[str, Any]]]:
    return [("/v1/conversations", {"limit": 3}),
            ("/v1/conversations", {"status": "open", "limit": 2}),
            (f"/v1/conversations/{s.d.conversations[0]}", {})]


async def test_an_unchanged_body_answers_304_without_a_body(
        app: FastAPI, seed: Seed, api_settings: ApiSettings) -> None:
    async with client_for(app, seed.d.tenant_id, api_settings) as client:
        for url, params in _conditional_urls(seed):
            first = await client.get(url, params=params)
            assert first.status_code == 200, first.text
            tag = first.headers["etag"]
            assert tag.startswith('"') and first.headers["cache-control"] == "private, no-cache"
            for header in (tag, f"W/{tag}", f'"elsewhere", {tag}', "*"):
                again = await client.get(url, params=params, headers={"If-None-Match": header})
                assert again.status_code == 304, (url, header)
                assert again.content == b"" and again.headers["etag"] == tag
            stale = await client.get(url, params=params, headers={"If-None-Match": '"0"'})
            assert stale.status_code == 200 and stale.content == first.content
            assert stale.headers["etag"] == tag


async def test_a_changed_row_changes_the_tag(app: FastAPI, seed: Seed, seeded_url: tuple[str, Seed],
                                            api_settings: ApiSettings) -> None:
    """Every row a body is made of moves its tag, whoever writes it (the read version is kept
    by triggers): the conversation, a message, the auto-reply decision, a row entering the
    page. Tags are per tenant and scope, so any such change moves every tag of the tenant's
    conversations; another tenant's tags stay (304)."""
    cid = seed.d.conversations[1]  # second oldest: not on the first page of 3
    conv, msgs = conversation_app.conv_conversations, conversation_app.conv_messages
    where = (conv.c.tenant_id == seed.d.tenant_id) & (conv.c.conversation_id == cid)
    changes = [
        update(conv).where(where).values(message_count=conv.c.message_count + 1,
                                         version=conv.c.version + 1),
        update(msgs).where((msgs.c.tenant_id == seed.d.tenant_id)
                           & (msgs.c.message_id == seed.d.messages[cid][1])
                           ).values(status="delivered", version=msgs.c.version + 1),
        text("UPDATE conversation_reactions SET auto_reply = 'suppressed', auto_reply_reason = 'x' "
             f"WHERE tenant_id = '{seed.d.tenant_id}' AND correlation_id = '{cid}'"),
        update(conv).where(where).values(last_activity_at=T0 + timedelta(days=9),
                                         version=conv.c.version + 1),
    ]
    urls = [f"/v1/conversations/{cid}", "/v1/conversations?limit=3"]
    other = "/v1/conversations?limit=3"
    engine = make_engine(seeded_url[0])
    try:
        async with client_for(app, seed.d.tenant_id, api_settings) as client, \
                client_for(app, seed.a.tenant_id, api_settings) as a:
            tags = {url: (await client.get(url)).headers["etag"] for url in urls}
            a_tag = (await a.get(other)).headers["etag"]
            for n, change in enumerate(changes):
                with engine.begin() as conn:
                    conn.execute(change)
                for url in urls:
                    r = await client.get(url, headers={"If-None-Match": tags[url]})
                    assert r.status_code == 200, (n, url)
                    assert r.headers["etag"] != tags[url]
                    tags[url] = r.headers["etag"]
                    again = await client.get(url, headers={"If-None-Match": tags[url]})
                    assert again.status_code == 304, (n, url)
                assert (await a.get(other, headers={"If-None-Match": a_tag})).status_code == 304
    finally:
        engine.dispose()


async def test_a_stream_app_write_moves_the_tag_and_a_duplicate_does_not(
        app: FastAPI, seed: Seed, seeded_url: tuple[str, Seed],
        api_settings: ApiSettings) -> None:
    """Through the stream apps' own store (`nmc_streams.db.write_batch`, what a worker's batch
    commits): a newer version of a row moves the tenant's tags (the old tag gets 200 and the
    new body), the same batch delivered again changes no row and keeps them (304)."""
    cid = seed.d.conversations[2]
    url = f"/v1/conversations/{cid}"
    engine = read_models.worker_engine(seeded_url[0])
    try:
        with engine.connect() as conn:
            conv = conversation_app.conv_conversations  # its columns: what a worker writes
            found = conn.execute(select(conv).where(
                (conv.c.tenant_id == seed.d.tenant_id) & (conv.c.conversation_id == cid)
            )).mappings().one()
            row = {str(k): v for k, v in found.items()}  # plain str keys, as a worker's rows
        newer = row | {"caller_phone": "+15559990000", "version": row["version"] + 1}
        async with client_for(app, seed.d.tenant_id, api_settings) as client:
            old = await client.get(url)
            list_tag = (await client.get("/v1/conversations")).headers["etag"]
            await asyncio.to_thread(read_models.write_batch, engine, "conversation", {},
                                    {"conv_conversations": [newer]})
            r = await client.get(url, headers={"If-None-Match": old.headers["etag"]})
            assert r.status_code == 200 and r.json()["caller_phone"] == "+15559990000"
            assert r.headers["etag"] != old.headers["etag"]
            listed = await client.get("/v1/conversations", headers={"If-None-Match": list_tag})
            assert listed.status_code == 200
            await asyncio.to_thread(read_models.write_batch, engine, "conversation", {},
                                    {"conv_conversations": [newer]})  # redelivered
            again = await client.get(url, headers={"If-None-Match": r.headers["etag"]})
            assert again.status_code == 304
    finally:
        engine.dispose()


async def test_a_tag_never_crosses_tenants(app: FastAPI, seed: Seed,
                                           api_settings: ApiSettings) -> None:
    """A's tags mean nothing to B: B gets its own rows (never a 304 on A's state), an id B
    does not own stays 404 even with `*`, and equal-looking rows of two tenants (same id,
    same version) have different tags."""
    shared = f"/v1/conversations/{seed.shared_conversation_id}"
    async with client_for(app, seed.a.tenant_id, api_settings) as a:
        a_detail = await a.get(shared)
        a_list = await a.get("/v1/conversations", params={"limit": 3})
        for header in (a_detail.headers["etag"], "*"):
            foreign = await a.get(f"/v1/conversations/{seed.b.conversations[1]}",
                                  headers={"If-None-Match": header})
            assert foreign.status_code == 404, foreign.text
    async with client_for(app, seed.b.tenant_id, api_settings) as b:
        r = await b.get(shared, headers={"If-None-Match": a_detail.headers["etag"]})
        assert r.status_code == 200 and r.json()["caller_phone"] == "+15552220000"
        assert r.headers["etag"] != a_detail.headers["etag"]
        r = await b.get("/v1/conversations", params={"limit": 3},
                        headers={"If-None-Match": a_list.headers["etag"]})
        assert r.status_code == 200 and r.headers["etag"] != a_list.headers["etag"]
    async with client_for(app, _uid(), api_settings) as nobody:
        for url, params in (("/v1/conversations", {"limit": 3}), (shared, {})):
            r = await nobody.get(url, params=params,
                                 headers={"If-None-Match": a_list.headers["etag"]
                                          if params else a_detail.headers["etag"]})
            assert r.status_code == (200 if params else 404), r.text
        assert r.json()["errors"][0]["field"] == "conversation_id"
        empty = await nobody.get("/v1/conversations", params={"limit": 3})
        assert empty.json() == {"items": [], "next_cursor": None}


# --- authentication -------------------------------------------------------------------------

def _fill(path: str) -> str:
    return path.replace("{conversation_id}", _uid()).replace("{resource_id}", _uid()) \
        .replace("{campaign_id}", _uid())


def _token(claims: dict[str, Any], secret: str = SECRET, alg: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=alg)


_NOW = int(time.time())
BAD_AUTH = {
    "missing": None,
    "basic scheme": "Basic dXNlcjpwYXNz",
    "empty bearer": "Bearer ",
    "garbage": "Bearer not.a.jwt",
    "wrong key": "Bearer " + _token({"tenant_id": _uid(), "exp": _NOW + 600},
                                    "another-secret-0123456789abcdef-xyz"),
    "expired": "Bearer " + _token({"tenant_id": _uid(), "exp": _NOW - 3600}),
    "no tenant": "Bearer " + _token({"exp": _NOW + 600}),
    "no exp": "Bearer " + _token({"tenant_id": _uid()}),
    "tenant not uuid": "Bearer " + _token({"tenant_id": "acme", "exp": _NOW + 600}),
    "alg none": "Bearer " + jwt.encode({"tenant_id": _uid(), "exp": _NOW + 600}, None,
                                       algorithm="none"),
    "other hmac alg": "Bearer " + _token({"tenant_id": _uid(), "exp": _NOW + 600},
                                         SECRET + SECRET, "HS512"),
}


@pytest.mark.parametrize("case", sorted(BAD_AUTH))
async def test_bad_credentials_get_401_on_every_v1_route(app: FastAPI, case: str) -> None:
    header = BAD_AUTH[case]
    async with client_for(app) as client:
        for path in _v1_routes(app):
            r = await client.get(_fill(path), headers={"Authorization": header} if header else {})
            assert r.status_code == 401, (path, r.text)
            assert r.headers["www-authenticate"].startswith("Bearer")
            problem = r.json()["errors"][0]
            assert problem["field"] == "Authorization" and problem["reason"]


async def test_audience_and_issuer_are_enforced_when_configured(seeded_url: tuple[str, Seed]
                                                                ) -> None:
    strict = ApiSettings(jwt_secret=SecretStr(SECRET), jwt_audience="nmc-read",
                         jwt_issuer="https://id.example")
    database = make_database(seeded_url[0], strict)
    try:
        app = create_app(strict, database=database)
        tenant = seeded_url[1].a.tenant_id
        good = issue_token(strict, uuid.UUID(tenant))
        bare = _token({"tenant_id": tenant, "exp": _NOW + 600})
        async with client_for(app) as client:
            ok = await client.get("/v1/subscription", headers={"Authorization": f"Bearer {good}"})
            assert ok.status_code == 200, ok.text
            r = await client.get("/v1/subscription", headers={"Authorization": f"Bearer {bare}"})
            assert r.status_code == 401
    finally:
        await database.close()


# --- validation -----------------------------------------------------------------------------

RES = f"/v1/resources/{uuid.UUID(int=1)}"
INVALID = [
    ("/v1/conversations", {"cursor": "not-a-cursor"}, "cursor"),
    ("/v1/conversations", {"cursor": "eyJ2Ijo5fQ"}, "cursor"),  # {"v":9}
    ("/v1/conversations", {"status": "pending"}, "status"),
    ("/v1/conversations", {"limit": "0"}, "limit"),
    ("/v1/conversations", {"limit": "51"}, "limit"),
    ("/v1/conversations", {"limit": "ten"}, "limit"),
    ("/v1/conversations/not-a-uuid", {}, "conversation_id"),
    (f"{RES}/appointments", {"to": WINDOW["to"]}, "from"),
    (f"{RES}/appointments", {"from": "2026-03-01T00:00:00", "to": WINDOW["to"]}, "from"),
    (f"{RES}/appointments", {"from": WINDOW["to"], "to": WINDOW["from"]}, "to"),
    (f"{RES}/appointments", {"from": WINDOW["from"], "to": WINDOW["from"]}, "to"),
    (f"{RES}/holds", {"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "to"),
    (f"{RES}/holds", {**WINDOW, "status": "gone"}, "status"),
    ("/v1/resources/xyz/holds", WINDOW, "resource_id"),
    ("/v1/reports/daily", {"from": "2026-13-01", "to": "2026-03-01"}, "from"),
    ("/v1/reports/daily", {"from": "2026-03-02", "to": "2026-03-01"}, "to"),
    ("/v1/reports/daily", {"from": "2024-01-01", "to": "2026-03-01"}, "to"),
    ("/v1/reports/daily", {"from": "2026-03-01"}, "to"),
    ("/v1/compliance/campaigns/123", {}, "campaign_id"),
]


@pytest.mark.parametrize(("path", "params", "name"), INVALID,
                         ids=[f"{p}?{'&'.join(q)}->{n}" for p, q, n in INVALID])
async def test_invalid_parameters_get_422_naming_the_field(
        app: FastAPI, seed: Seed, api_settings: ApiSettings, path: str, params: dict[str, str],
        name: str) -> None:
    async with client_for(app, seed.a.tenant_id, api_settings) as client:
        r = await client.get(path, params=params)
    assert r.status_code == 422, r.text
    assert name in [e["field"] for e in r.json()["errors"]], r.text


# --- pagination -----------------------------------------------------------------------------

@pytest.mark.parametrize("status", [None, "open", "closed"])
@pytest.mark.parametrize("limit", [1, 7, 10, 50])
async def test_pagination_walks_every_row_once_in_order(
        app: FastAPI, seed: Seed, api_settings: ApiSettings, status: str | None,
        limit: int) -> None:
    async with client_for(app, seed.c.tenant_id, api_settings) as client:
        got = await _walk(client, limit=limit, **({"status": status} if status else {}))
        everything = await _walk(client, limit=50)
    ids = [i["conversation_id"] for i in got]
    assert len(ids) == len(set(ids)), "duplicate across pages"
    expected = {i["conversation_id"] for i in everything
                if status is None or i["status"] == status}
    assert set(ids) == expected
    if status is None:
        assert set(ids) == set(seed.c.conversations)
    keys = [(i["last_activity_at"], i["conversation_id"]) for i in got]
    assert keys == sorted(keys, reverse=True)


async def test_default_page_size_and_last_page(app: FastAPI, seed: Seed,
                                               api_settings: ApiSettings) -> None:
    async with client_for(app, seed.c.tenant_id, api_settings) as client:
        first = (await client.get("/v1/conversations")).json()
        assert len(first["items"]) == api_settings.page_size_default
        assert first["next_cursor"]
    async with client_for(app, seed.a.tenant_id, api_settings) as client:
        only = (await client.get("/v1/conversations", params={"limit": 5})).json()
        assert len(only["items"]) == 5 and only["next_cursor"] is None


# --- operations -----------------------------------------------------------------------------

async def test_healthz_readyz_metrics_openapi(app: FastAPI, seed: Seed,
                                              api_settings: ApiSettings) -> None:
    async with client_for(app, seed.a.tenant_id, api_settings) as client:
        await client.get(f"/v1/conversations/{seed.b.conversations[1]}")
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ok"
        metrics = (await client.get("/metrics")).text
        assert 'route="/v1/conversations/{conversation_id}"' in metrics
        assert 'status="404"' in metrics
        assert seed.b.conversations[1] not in metrics  # templates, never raw ids
        spec = (await client.get("/openapi.json")).json()
    for path in _v1_routes(app):
        operation = spec["paths"][path]["get"]
        assert {"HTTPBearer": []} in operation["security"], path
        assert "200" in operation["responses"] and "401" in operation["responses"]


async def test_readyz_is_503_with_a_reason_when_postgresql_is_down(
        api_settings: ApiSettings) -> None:
    down = Settings(database_url=SecretStr("postgresql+psycopg://nmc:nmc@127.0.0.1:1/nmc"))
    settings = api_settings.model_copy(update={"db_connect_timeout_s": 1})
    app = create_app(settings, down)
    try:
        async with client_for(app) as client:
            r = await client.get("/readyz")
            assert (await client.get("/healthz")).status_code == 200
    finally:
        await app.state.db.close()
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "unavailable" and "database unavailable" in body["reason"]
    assert "nmc:nmc" not in body["reason"]


async def test_pooled_connections_killed_under_the_api_cost_no_request(
        app: FastAPI, seed: Seed, seeded_url: tuple[str, Seed], api_settings: ApiSettings
) -> None:
    """No pre-ping: a dead pooled connection is found by the query itself, discarded, and
    the read retried, so a PostgreSQL restart (here: every API backend terminated) is not an
    error for the client."""
    import psycopg

    from nmc_streams.api.database import conninfo

    async with client_for(app, seed.a.tenant_id, api_settings) as client:
        assert (await client.get("/v1/subscription")).status_code == 200  # pool is open
        async with await psycopg.AsyncConnection.connect(conninfo(seeded_url[0]),
                                                         autocommit=True) as admin:
            cur = await admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = 'nmc-read-api'")
            row = await cur.fetchone()
            assert row is not None and row[0] == api_settings.db_pool_size
        for _ in range(2 * api_settings.db_pool_size):
            r = await client.get("/v1/subscription")
            assert r.status_code == 200, r.text


async def test_the_api_cannot_write(app: FastAPI) -> None:
    """Defence in depth: the API's sessions are read-only at the database."""
    import psycopg

    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction, match="read-only"):
        async with app.state.db.connection() as conn:
            await conn.execute("DELETE FROM conv_conversations")
