"""`nmc edge serve|expire-holds|token`: the webhook + command HTTP service and its jobs."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from producers.edges.settings import EdgeSettings

if TYPE_CHECKING:
    from producers.outbox import OutboxWriter

edge_app = typer.Typer(help="Twilio / Stripe webhooks and domain commands.",
                       no_args_is_help=True)
console = Console()


def _engine() -> Engine:
    from nmc.infra.db import make_engine
    from nmc.infra.settings import get_settings

    return make_engine(get_settings().database)


def serve(settings: EdgeSettings, engine: Engine | None = None) -> None:
    """Run the HTTP service with uvicorn until interrupted (composition root: the platform
    settings are read here, once, for the database and the outbox writer: `ServiceSettings`
    and `OutboxSettings`)."""
    import uvicorn

    from nmc.infra import tracing
    from nmc.infra.settings import get_settings
    from producers.edges.app import create_edge_app
    from producers.outbox import OutboxWriter
    from producers.outbox.settings import OutboxSettings

    tracing.configure("nmc-edge")  # FastAPI then makes a server span per request
    own = engine is None
    engine = engine or _engine()
    writer = OutboxWriter.from_settings(OutboxSettings(), get_settings())
    try:
        uvicorn.run(create_edge_app(settings, engine, writer), host=settings.host,
                    port=settings.port, log_level="info", proxy_headers=True)
    finally:
        if own:
            engine.dispose()


@edge_app.command("serve")
def serve_cmd() -> None:
    """Serve /twilio/*, /stripe/webhook and /v1/* on NMC_EDGE_HOST:NMC_EDGE_PORT."""
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(EdgeSettings())


def expire_holds_once(engine: Engine, writer: OutboxWriter, now: datetime | None = None) -> int:
    """Release every expired hold (AppointmentReleased each, through `writer`); returns how
    many."""
    from producers.scheduling.holds import release_expired_holds

    total = 0
    while True:
        with Session(engine) as session, session.begin():
            released = release_expired_holds(session, writer, now or datetime.now(UTC))
        total += len(released)
        if not released:
            return total


@edge_app.command("expire-holds")
def expire_holds(
    interval: Annotated[float, typer.Option(help="Seconds between runs; 0 = run once.")] = 0,
) -> None:
    """Release expired holds (once, or every --interval seconds until interrupted)."""
    from nmc.infra.settings import get_settings
    from producers.outbox import OutboxWriter
    from producers.outbox.settings import OutboxSettings

    engine = _engine()
    writer = OutboxWriter.from_settings(OutboxSettings(), get_settings())
    try:
        while True:
            n = expire_holds_once(engine, writer)
            console.print(f"released {n} expired hold(s)")
            if interval <= 0:
                return
            time.sleep(interval)
    finally:
        engine.dispose()


@edge_app.command("token")
def token(
    tenant_id: Annotated[str, typer.Option(help="Tenant uuid.")],
    user_id: Annotated[str | None, typer.Option(help="User uuid (sub claim).")] = None,
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds.")] = 3600,
) -> None:
    """Print a command bearer token signed with NMC_EDGE_JWT_SECRET (operators, tests)."""
    from producers.edges.auth import issue_token

    settings = EdgeSettings()
    settings.require("jwt_secret")
    console.print(issue_token(settings.token_rules(), uuid.UUID(tenant_id),
                              uuid.UUID(user_id) if user_id else None, ttl, int(time.time())))
