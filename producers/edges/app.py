"""The edge HTTP service: `create_edge_app(settings, engine)` is its composition root.

Routes are thin: authenticate / verify, parse, call one service function inside one
transaction (`_tx`), map the outcome to a response. A refused request (`Refused`) rolls back
and answers its status with ``{"errors": [{"field", "reason"}]}``; a provider retry
(`Replayed`) rolls back and answers success.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import parse_qsl
from uuid import UUID

from fastapi import Depends, FastAPI, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from nmc.contract.errors import FieldError, InvalidEvent
from nmc.infra.http_metrics import HttpMetrics, MetricsMiddleware
from nmc.infra.retry import is_transient, retry_transient
from producers.bounds import (
    INTEGER_MAX,
    Cents,
    StoredText,
    WindowedDatetime,
    check_texts,
)
from producers.catalog import items as catalog
from producers.compliance import campaigns
from producers.conversation import takeover
from producers.edges import decisions
from producers.edges.auth import Principal, authenticate
from producers.edges.settings import EdgeSettings
from producers.edges.stripe_hooks import (
    read_subscription_event,
    subscription_event,
    verify_stripe,
)
from producers.edges.twilio_hooks import (
    HookResult,
    inbound_sms,
    message_status,
    verify_twilio,
    voice_status,
)
from producers.errors import Refused, Replayed
from producers.scheduling import holds
from producers.tenants import UnknownTenant, get_tenant

log = logging.getLogger(__name__)
T = TypeVar("T")
XML = "application/xml"


def _now() -> datetime:
    return datetime.now(UTC)


def _tx_once(engine: Engine, fn: Callable[[Session], T]) -> T:
    """Run `fn` in one transaction; `Replayed` rolls back and returns its result."""
    with Session(engine) as session:
        try:
            with session.begin():
                return fn(session)
        except Replayed as replay:
            return replay.result  # type: ignore[no-any-return]


def _tx(engine: Engine, settings: EdgeSettings, fn: Callable[[Session], T]) -> T:
    """`_tx_once`, run again on a deadlock / serialization failure (`nmc.infra.retry`);
    `fn` must therefore be re-runnable: everything it does happens inside the transaction.
    A conflict that outlives the bounded retries answers 503 + Retry-After, never a 500."""
    try:
        return retry_transient(lambda: _tx_once(engine, fn), settings.tx_retry_attempts,
                               settings.tx_retry_max_s)
    except Exception as exc:
        if not is_transient(exc):
            raise
        log.warning("transient conflict after %d attempts: %s", settings.tx_retry_attempts,
                    exc)
        raise Refused(503, "concurrent update conflict, retry later", "request",
                        headers={"Retry-After": "1"}) from exc


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CatalogItemIn(_Body):
    name: StoredText = Field(min_length=1, max_length=200)
    price_cents: Cents
    duration_minutes: int = Field(gt=0, le=24 * 60)
    active: bool = True


Phone = Annotated[StoredText, Field(max_length=32)]


class HoldIn(_Body):
    resource_id: UUID
    start: WindowedDatetime
    end: WindowedDatetime
    ttl_seconds: int = Field(default=600, ge=1, le=INTEGER_MAX)
    customer_phone: Phone | None = None
    correlation_id: UUID | None = None
    causation_id: UUID | None = None


class BookIn(_Body):
    service_item_id: UUID
    customer_phone: Phone | None = None


class CancelIn(_Body):
    reason: Literal["user", "tenant", "system", "conflict"]


class CampaignIn(_Body):
    status: Literal["pending", "approved", "rejected"]


class TakeoverIn(_Body):
    causation_id: UUID | None = None


def _principal(request: Request,
               authorization: Annotated[str | None, Header()] = None) -> Principal:
    """The authenticated caller, whose tenant must be in the directory."""
    engine: Engine = request.app.state.engine
    who = authenticate(authorization, request.app.state.token_rules)
    with Session(engine) as session:
        try:
            get_tenant(session, who.tenant_id)
        except UnknownTenant:
            raise Refused(403, "unknown tenant", "tenant_id") from None
    return who


# Module level: route annotations are resolved against the module's globals.
Caller = Annotated[Principal, Depends(_principal)]


def create_edge_app(settings: EdgeSettings, engine: Engine) -> FastAPI:
    """The webhook + command service. Validates the settings it needs at construction."""
    settings.require("public_base_url", "twilio_auth_token", "stripe_webhook_secret",
                     "jwt_secret")
    assert settings.public_base_url and settings.twilio_auth_token
    assert settings.stripe_webhook_secret and settings.jwt_secret
    base_url = settings.public_base_url
    twilio_token = settings.twilio_auth_token.get_secret_value()
    stripe_secret = settings.stripe_webhook_secret.get_secret_value()

    app = FastAPI(title="NeverMissCall edges", docs_url=None, redoc_url=None)
    metrics = HttpMetrics("nmc_edge")
    app.state.metrics = metrics
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.state.engine = engine
    app.state.token_rules = settings.token_rules()

    @app.exception_handler(Refused)
    async def _edge_error(_: Request, exc: Refused) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(InvalidEvent)
    async def _invalid_event(_: Request, exc: InvalidEvent) -> JSONResponse:
        return JSONResponse(Refused.fields(422, exc.errors).body(), status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [FieldError(".".join(str(p) for p in e["loc"] if p != "body") or "body",
                             e["msg"]) for e in exc.errors()]
        return JSONResponse(Refused.fields(400, errors).body(), status_code=400)

    # --- Twilio ---------------------------------------------------------------------------

    async def _twilio(request: Request, handler: Callable[[Session, dict[str, str]], HookResult],
                      twiml: str) -> Response:
        body = await request.body()
        if request.headers.get("content-type", "").split(";")[0].strip() != \
                "application/x-www-form-urlencoded":
            raise Refused(400, "expected application/x-www-form-urlencoded", "Content-Type")
        try:
            params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                                    strict_parsing=bool(body)))
        except (UnicodeDecodeError, ValueError):
            raise Refused(400, "malformed form body", "body") from None
        verify_twilio(twilio_token, base_url, request.url.path, request.url.query, params,
                      request.headers.get("x-twilio-signature"))
        # Signed is not the same as storable: bounds are checked before any transaction.
        errors = check_texts(params)
        if errors:
            raise Refused.fields(400, errors)
        result = await run_in_threadpool(_tx, engine, settings, lambda s: handler(s, params))
        log.info("twilio %s: %s (%s)", request.url.path, result.outcome, result.detail)
        # The header carries only our own fixed vocabulary (HookResult.outcome), never
        # request data: a CR/LF or non-latin-1 value would break the response.
        return Response(twiml, media_type=XML, headers={"X-NMC-Outcome": result.outcome})

    @app.post("/twilio/voice/status")
    async def twilio_voice_status(request: Request) -> Response:
        return await _twilio(
            request, lambda s, p: voice_status(s, p, _now(), settings.thread_idle_s),
            decisions.empty_voice_twiml())

    @app.post("/twilio/sms")
    async def twilio_sms(request: Request) -> Response:
        return await _twilio(
            request, lambda s, p: inbound_sms(s, p, _now(), settings.thread_idle_s),
            decisions.empty_messaging_twiml())

    @app.post("/twilio/messages/status")
    async def twilio_message_status(request: Request) -> Response:
        mid = request.query_params.get("mid")
        return await _twilio(request, lambda s, p: message_status(s, p, mid, _now()),
                             decisions.empty_messaging_twiml())

    # --- Stripe ---------------------------------------------------------------------------

    @app.post("/stripe/webhook")
    async def stripe_webhook(request: Request) -> JSONResponse:
        payload = await request.body()
        verify_stripe(payload, request.headers.get("stripe-signature"), stripe_secret,
                      settings.stripe_tolerance_s)
        data = read_subscription_event(payload)  # bounded before any transaction
        result = data if isinstance(data, HookResult) else await run_in_threadpool(
            _tx, engine, settings,
            lambda s: subscription_event(s, data, settings.price_plans, _now()))
        log.info("stripe: %s (%s)", result.outcome, result.detail)
        return JSONResponse({"received": True, "outcome": result.outcome})

    # --- commands -------------------------------------------------------------------------

    def _event(e: Any) -> dict[str, Any] | None:
        return None if e is None else {"event_id": str(e.event_id),
                                       "correlation_id": str(e.correlation_id)}

    @app.put("/v1/catalog/items/{item_id}")
    def put_catalog_item(item_id: UUID, body: CatalogItemIn, who: Caller) -> dict[str, Any]:
        item = catalog.CatalogItem(item_id, body.name, body.price_cents,
                                    body.duration_minutes, body.active)
        event = _tx(engine, settings, lambda s: catalog.upsert_catalog_items(
            s, who.tenant_id, [item], _now()))
        return {"item_id": str(item_id), "changed": event is not None, "event": _event(event)}

    @app.post("/v1/holds", status_code=201)
    def post_hold(body: HoldIn, who: Caller) -> dict[str, Any]:
        req = holds.HoldRequest(body.resource_id, body.start, body.end, body.ttl_seconds,
                                   body.customer_phone, body.correlation_id, body.causation_id)
        row, event = _tx(engine, settings, lambda s: holds.place_hold(
            s, who.tenant_id, req, _now(), settings.max_hold_ttl_s))
        return {"hold_id": str(row.hold_id), "expires_at": row.expires_at.isoformat(),
                "event": _event(event)}

    @app.post("/v1/holds/{hold_id}/book")
    def post_book(hold_id: UUID, body: BookIn, who: Caller) -> dict[str, Any]:
        row, event = _tx(engine, settings, lambda s: holds.book_hold(
            s, who.tenant_id, hold_id, body.service_item_id, body.customer_phone, _now()))
        return {"appointment_id": str(row.appointment_id), "event": _event(event)}

    @app.post("/v1/holds/{hold_id}/release")
    def post_release(hold_id: UUID, who: Caller) -> dict[str, Any]:
        event = _tx(engine, settings,
                    lambda s: holds.release_hold(s, who.tenant_id, hold_id, _now()))
        return {"hold_id": str(hold_id), "event": _event(event)}

    @app.post("/v1/appointments/{appointment_id}/cancel")
    def post_cancel(appointment_id: UUID, body: CancelIn, who: Caller) -> dict[str, Any]:
        event = _tx(engine, settings, lambda s: holds.cancel_appointment(
            s, who.tenant_id, appointment_id, body.reason, _now()))
        return {"appointment_id": str(appointment_id), "event": _event(event)}

    @app.put("/v1/compliance/campaigns/{campaign_id}")
    def put_campaign(campaign_id: UUID, body: CampaignIn, who: Caller) -> dict[str, Any]:
        event = _tx(engine, settings, lambda s: campaigns.set_campaign_status(
            s, who.tenant_id, campaign_id, body.status, _now()))
        return {"campaign_id": str(campaign_id), "changed": event is not None,
                "event": _event(event)}

    @app.post("/v1/conversations/{conversation_id}/takeover")
    def post_takeover(conversation_id: UUID, who: Caller,
                      body: TakeoverIn | None = None) -> dict[str, Any]:
        if who.user_id is None:
            raise Refused(403, "token has no user (sub claim)", "Authorization")
        user = who.user_id
        causation = None if body is None else body.causation_id
        event = _tx(engine, settings, lambda s: takeover.request_takeover(
            s, who.tenant_id, conversation_id, user, _now(), causation))
        return {"conversation_id": str(conversation_id), "event": _event(event)}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        """Requests by route template and status (the webhooks' outcomes), and latency."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
