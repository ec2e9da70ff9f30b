"""Composition root of the read API: `create_app(settings)` wires settings, the database,
authentication, metrics and the routes. Nothing happens at import time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from sqlalchemy import Engine, create_engine

from nmc.settings import Settings, get_settings
from nmc_streams.api.deps import Database
from nmc_streams.api.errors import ApiError, api_error_handler, validation_error_handler
from nmc_streams.api.metrics import ApiMetrics, MetricsMiddleware
from nmc_streams.api.routes import compliance, conversations, health, reports, scheduling
from nmc_streams.api.settings import ApiSettings

API_VERSION = "1.0.0"


def make_engine(database_url: str, settings: ApiSettings) -> Engine:
    """A pool of read-only sessions.

    AUTOCOMMIT: every query is one statement at READ COMMITTED, so an explicit transaction
    would only add BEGIN/ROLLBACK round trips. `default_transaction_read_only` makes the
    database refuse any write this process might attempt (defence in depth for a read API);
    `statement_timeout` keeps one slow query from holding a pooled connection forever.
    """
    options = "-c default_transaction_read_only=on"
    if settings.db_statement_timeout_ms:
        options += f" -c statement_timeout={settings.db_statement_timeout_ms}"
    return create_engine(
        database_url,
        isolation_level="AUTOCOMMIT",
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=True,
        connect_args={"connect_timeout": settings.db_connect_timeout_s, "options": options},
    )


def create_app(settings: ApiSettings, platform: Settings | None = None,
               engine: Engine | None = None) -> FastAPI:
    """The read API. `platform` says where PostgreSQL is (default: the environment's
    `DATABASE_URL` or the local stack); `engine` overrides it (the app then does not own it).
    """
    owned = engine is None
    if engine is None:
        engine = make_engine((platform or get_settings()).database, settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            engine.dispose()

    app = FastAPI(
        title="NeverMissCall read API",
        version=API_VERSION,
        description="Tenant-scoped reads of the platform's read models. Every `/v1` route "
        "needs `Authorization: Bearer <jwt>` whose `tenant_id` claim selects the tenant; "
        "objects of other tenants answer 404 and never appear in lists.",
        lifespan=lifespan,
    )
    metrics = ApiMetrics()
    app.state.settings = settings
    app.state.engine = engine
    app.state.db = Database(engine)
    app.state.metrics = metrics
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_exception_handler(ApiError, api_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    for module in (health, conversations, scheduling, reports, compliance):
        app.include_router(module.router)
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
