"""Dependencies of the edge routes: `EdgeDep` (what the composition root built: settings,
engine, outbox writer) and `Caller` (the authenticated tenant of a command).

`Edge` lives on `app.state.edge`; routes get it through `EdgeDep`, which takes only the
request and so adds nothing to the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from nmc.infra.bearer_tokens import TokenRules
from producers.edges.auth import Principal, authenticate
from producers.edges.settings import EdgeSettings
from producers.edges.transactions import run_transaction
from producers.edges.twilio_input import signed_form
from producers.errors import Refused
from producers.outbox import OutboxWriter
from producers.tenants import UnknownTenant, get_tenant

T = TypeVar("T")


def now() -> datetime:
    """The time a request's events occurred (read inside the transaction function, so a
    retried transaction gets a fresh one)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Edge:
    """What every route may use, built once by `create_edge_app`."""

    settings: EdgeSettings
    engine: Engine
    writer: OutboxWriter
    token_rules: TokenRules

    @property
    def twilio_auth_token(self) -> str:
        assert self.settings.twilio_auth_token is not None  # required at construction
        return self.settings.twilio_auth_token.get_secret_value()

    @property
    def public_base_url(self) -> str:
        assert self.settings.public_base_url is not None  # required at construction
        return self.settings.public_base_url

    @property
    def stripe_secret(self) -> str:
        assert self.settings.stripe_webhook_secret is not None  # required at construction
        return self.settings.stripe_webhook_secret.get_secret_value()

    async def twilio_form(self, request: Request) -> dict[str, str]:
        """The verified form of a Twilio webhook (`twilio_input.signed_form` with this edge's
        auth token and public URL): 400 / 403 before any transaction."""
        return await signed_form(request, self.twilio_auth_token, self.public_base_url)

    def transaction(self, fn: Callable[[Session], T]) -> T:
        """`fn` in one (retried) transaction: `producers.edges.transactions`. Blocking."""
        return run_transaction(self.engine, self.settings.tx_retry_attempts,
                               self.settings.tx_retry_max_s, fn)

    async def transaction_async(self, fn: Callable[[Session], T]) -> T:
        """`transaction` from an async route, in a worker thread."""
        return await run_in_threadpool(self.transaction, fn)


async def get_edge(request: Request) -> Edge:
    edge: Edge = request.app.state.edge
    return edge


def current_principal(request: Request,
                      authorization: Annotated[str | None, Header()] = None) -> Principal:
    """The authenticated caller, whose tenant must be in the directory."""
    edge: Edge = request.app.state.edge
    who = authenticate(authorization, edge.token_rules)
    with Session(edge.engine) as session:
        try:
            get_tenant(session, who.tenant_id)
        except UnknownTenant:
            raise Refused(403, "unknown tenant", "tenant_id") from None
    return who


def event_ref(event: Any) -> dict[str, Any] | None:
    """How a command's answer names the event it wrote (None when nothing changed)."""
    return None if event is None else {"event_id": str(event.event_id),
                                       "correlation_id": str(event.correlation_id)}


EdgeDep = Annotated[Edge, Depends(get_edge)]
Caller = Annotated[Principal, Depends(current_principal)]
