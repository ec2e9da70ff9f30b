"""Composition root of the read API: `create_app(settings)` wires settings, the database,
authentication, metrics and the routes. Nothing happens at import time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from psycopg_pool import PoolTimeout

from nmc.infra.heap import settle_heap
from nmc.infra.http_metrics import HttpMetrics, MetricsMiddleware
from nmc.infra.settings import ServiceSettings
from nmc_streams.api.auth import TokenVerifier
from nmc_streams.api.database import Database
from nmc_streams.api.errors import (
    ApiError,
    api_error_handler,
    unavailable_handler,
    validation_error_handler,
)
from nmc_streams.api.freshness import VersionLookups
from nmc_streams.api.routes import compliance, conversations, health, reports, scheduling
from nmc_streams.api.settings import ApiSettings

API_VERSION = "1.0.0"


def make_database(database_url: str, settings: ApiSettings) -> Database:
    """The read-only connection pool of the API (`nmc_streams.api.database`)."""
    return Database(database_url, settings)


def create_app(settings: ApiSettings, platform: ServiceSettings | None = None,
               database: Database | None = None) -> FastAPI:
    """The read API. `platform` says where PostgreSQL is (`NMC_API_DATABASE_URL` overrides
    it; one of the two is needed); `database` overrides both (the app then does not own it
    and leaves closing it to the caller). Its roots (`nmc api`, the demo) read the settings.
    """
    owned = database is None
    if database is None:
        if settings.database_url is not None:
            url = settings.database_url.get_secret_value()
        elif platform is not None:
            url = platform.database
        else:
            raise ValueError("the read API needs `platform` (where PostgreSQL is), "
                             "NMC_API_DATABASE_URL or a `database`")
        database = make_database(url, settings)
    db = database

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await db.open()  # connections are made now, not on the first requests
        if settings.gc_freeze:
            settle_heap()
        yield
        if owned:
            await db.close()

    app = FastAPI(
        title="NeverMissCall read API",
        version=API_VERSION,
        description="Tenant-scoped reads of the platform's read models. Every `/v1` route "
        "needs `Authorization: Bearer <jwt>` whose `tenant_id` claim selects the tenant; "
        "objects of other tenants answer 404 and never appear in lists.",
        lifespan=lifespan,
    )
    metrics = HttpMetrics("nmc_api")
    app.state.settings = settings
    app.state.db = db
    app.state.versions = VersionLookups(db)  # the conditional GETs' batched freshness check
    app.state.verifier = TokenVerifier(settings)
    app.state.metrics = metrics
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_exception_handler(ApiError, api_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(PoolTimeout, unavailable_handler)
    for module in (health, conversations, scheduling, reports, compliance):
        # flat, not `include_router`: FastAPI >= 0.16x keeps an included router as a lazy
        # entry that matches every request twice (once to pick the router, once inside
        # it), a measurable cost per request. The routes already carry their router's tags
        # and responses (merged when they were declared).
        app.router.routes.extend(module.router.routes)
    return app


def route_paths(app: FastAPI) -> dict[str, set[str]]:
    """Every served path template with its methods, included routers flattened.

    FastAPI >= 0.16x keeps included routers as lazy `_IncludedRouter` entries in `app.routes`;
    `iter_route_contexts` is its way to see through them (older versions list plain routes).
    The tenancy test builds its parametrisation from this, so no route can escape it."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI: routes are already flat
        return {getattr(r, "path", ""): set(getattr(r, "methods", None) or ())
                for r in app.routes}
    paths: dict[str, set[str]] = {}
    for ctx in iter_route_contexts(app.routes):
        if ctx.path is not None:
            paths.setdefault(ctx.path, set()).update(ctx.methods or ())
    return paths
