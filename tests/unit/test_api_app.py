"""The app without a database: authentication and parameter checks answer before any query,
OpenAPI documents every route. (The pool is never opened: nothing reaches PostgreSQL.)"""

from __future__ import annotations

import gc
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from nmc_streams.api.app import create_app, make_database, route_paths
from nmc_streams.api.auth import issue_token
from nmc_streams.api.settings import ApiSettings

pytestmark = pytest.mark.anyio
SETTINGS = ApiSettings(jwt_secret=SecretStr("unit-test-secret-0123456789abcdef-0123"))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def app() -> AsyncIterator[FastAPI]:
    database = make_database("postgresql+psycopg://nobody@127.0.0.1:1/none", SETTINGS)
    yield create_app(SETTINGS, database=database)
    await database.close()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    token = issue_token(SETTINGS, uuid.uuid4())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t",
                                 headers={"Authorization": f"Bearer {token}"}) as c:
        yield c


async def test_unauthenticated_requests_learn_nothing_about_parameters(app: FastAPI) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as c:
        r = await c.get("/v1/conversations", params={"limit": "nope", "cursor": "bad"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json() == {"errors": [{"field": "Authorization", "location": "header",
                                    "reason": "missing bearer token"}]}


@pytest.mark.parametrize(("path", "field"), [
    ("/v1/conversations?cursor=%%%", "cursor"),
    ("/v1/conversations?limit=100000", "limit"),
    ("/v1/conversations?status=maybe", "status"),
    ("/v1/conversations/123", "conversation_id"),
    ("/v1/reports/daily?from=2026-01-02&to=2026-01-01", "to"),
    ("/v1/reports/daily?to=2026-01-01", "from"),
])
async def test_invalid_parameters_are_422_naming_the_field(client: httpx.AsyncClient,
                                                           path: str, field: str) -> None:
    r = await client.get(path)
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]]


async def test_openapi_documents_every_route_with_bearer(client: httpx.AsyncClient,
                                                         app: FastAPI) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path in route_paths(app):
        if path.startswith("/v1/"):
            op = spec["paths"][path]["get"]
            assert op["security"] == [{"HTTPBearer": []}]
            assert {"200", "401", "422"} <= set(op["responses"])


async def test_healthz_needs_no_database(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}


@pytest.mark.parametrize("freeze", [True, False])
async def test_start_up_exempts_its_heap_from_collection_when_asked(freeze: bool) -> None:
    """`NMC_API_GC_FREEZE`: the objects alive after start-up leave the collector's sight (the
    full collections that walked them were the p99 of the DB routes), and only when set."""
    settings = SETTINGS.model_copy(update={"gc_freeze": freeze})
    database = make_database("postgresql+psycopg://nobody@127.0.0.1:1/none", settings)
    app = create_app(settings, database=database)
    gc.unfreeze()
    try:
        async with app.router.lifespan_context(app):
            assert (gc.get_freeze_count() > 0) is freeze
    finally:
        gc.unfreeze()
        await database.close()


@pytest.mark.parametrize("path", ["/v1/conversations", "/v1/conversations/{conversation_id}"])
async def test_openapi_documents_the_conditional_get(client: httpx.AsyncClient,
                                                     path: str) -> None:
    """The rendered routes return raw bytes, yet OpenAPI still names their model, the ETag
    header, If-None-Match and the 304."""
    op = (await client.get("/openapi.json")).json()["paths"][path]["get"]
    ok = op["responses"]["200"]
    assert ok["content"]["application/json"]["schema"]["$ref"].startswith("#/components/")
    assert "ETag" in ok["headers"] and "ETag" in op["responses"]["304"]["headers"]
    assert "If-None-Match" in {p["name"] for p in op["parameters"] if p["in"] == "header"}
