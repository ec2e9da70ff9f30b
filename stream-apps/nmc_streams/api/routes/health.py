"""Operational endpoints, unauthenticated by design: liveness, readiness, metrics.

They reveal no tenant data; `/readyz` reports only whether PostgreSQL answers.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from nmc_streams.api.deps import DbDep, SettingsDep
from nmc_streams.api.models import Health

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process serves requests",
            response_model_exclude_none=True)
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", summary="Readiness: PostgreSQL answers `SELECT 1`",
            response_model=Health, response_model_exclude_none=True,
            responses={503: {"model": Health}})
async def readyz(db: DbDep, settings: SettingsDep) -> Health | JSONResponse:
    try:
        await db.ping(settings.db_connect_timeout_s)
    except Exception as exc:  # any failure means "do not route traffic here"
        first = (str(exc).splitlines() or ["no answer in time"])[0][:200]
        reason = f"database unavailable: {type(exc).__name__}: {first}"
        return JSONResponse(Health(status="unavailable", reason=reason).model_dump(),
                            status_code=503)
    return Health(status="ok")


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry),
                    media_type=CONTENT_TYPE_LATEST)
