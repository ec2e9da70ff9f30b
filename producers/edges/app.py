"""The edge HTTP service: `create_edge_app(settings, engine)` is its composition root.

It only composes: the `Edge` the routes depend on (`deps.py`), the error answers
(`errors.py`), metrics, and the routers of `routes/` (one module per resource). Routes are
thin: verify / authenticate, parse into typed input, call one domain function inside one
transaction (`Edge.transaction`), map the outcome to a response.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter, FastAPI
from sqlalchemy import Engine

from nmc.infra.http_metrics import HttpMetrics, MetricsMiddleware
from producers.edges.deps import Edge
from producers.edges.errors import add_error_handlers
from producers.edges.routes import ROUTERS
from producers.edges.settings import EdgeSettings
from producers.outbox import OutboxWriter
from producers.outcomes import OUTCOME_HEADER


def create_edge_app(settings: EdgeSettings, engine: Engine, writer: OutboxWriter | None = None,
                    routers: Iterable[APIRouter] = ROUTERS) -> FastAPI:
    """The webhook + command service. Validates the settings it needs at construction.

    `writer` appends the events: its root's, configured from `OutboxSettings` (`nmc edge
    serve` builds it; default: a bare `OutboxWriter()`, the settings' defaults and no stored
    values, for tests); `routers` are served in order (default: `routes.ROUTERS`).
    """
    settings.require("public_base_url", "twilio_auth_token", "stripe_webhook_secret",
                     "jwt_secret")
    app = FastAPI(title="NeverMissCall edges", docs_url=None, redoc_url=None)
    metrics = HttpMetrics("nmc_edge", outcome_header=OUTCOME_HEADER)
    app.state.metrics = metrics
    app.state.edge = Edge(settings, engine, writer or OutboxWriter(), settings.token_rules())
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    add_error_handlers(app)
    for router in routers:
        # Flat, not `include_router` (as the read API does): FastAPI >= 0.16x keeps an
        # included router as a lazy entry that matches every request twice.
        app.router.routes.extend(router.routes)
    return app
