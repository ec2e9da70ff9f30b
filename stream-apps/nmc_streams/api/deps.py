"""Dependencies of the routes, as `Annotated` aliases (`DbDep`, `CurrentTenant`, ...).

`Database.run` executes one query function with a pooled connection in a single worker-thread
hop: the sync psycopg driver must not block the event loop, and one hop per request (rather
than one for a generator dependency plus one for a sync endpoint) is measurably cheaper.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Concatenate, ParamSpec, TypeVar

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Connection, Engine
from starlette.concurrency import run_in_threadpool

from nmc_streams.api.auth import Principal, authenticate
from nmc_streams.api.settings import ApiSettings

P = ParamSpec("P")
T = TypeVar("T")

# Documents the scheme in OpenAPI; the header itself is checked by `authenticate`, which
# gives every defect its own 401 reason (HTTPBearer would answer 403 without one).
_bearer = HTTPBearer(auto_error=False, description="JWT with a `tenant_id` claim.")


class Database:
    """The read side of PostgreSQL as the routes see it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _call(self, fn: Callable[Concatenate[Connection, P], T],
              *args: P.args, **kwargs: P.kwargs) -> T:
        with self.engine.connect() as conn:
            return fn(conn, *args, **kwargs)

    async def run(self, fn: Callable[Concatenate[Connection, P], T],
                  *args: P.args, **kwargs: P.kwargs) -> T:
        return await run_in_threadpool(self._call, fn, *args, **kwargs)  # type: ignore[arg-type]


async def get_settings(request: Request) -> ApiSettings:
    """Async on purpose: a sync dependency would cost a worker-thread hop."""
    settings: ApiSettings = request.app.state.settings
    return settings


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def current_principal(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> Principal:
    """The verified caller; 401 otherwise. Async: JWT verification is CPU-only and quick."""
    return authenticate(request.headers.get("authorization"), request.app.state.settings)


SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
DbDep = Annotated[Database, Depends(get_db)]
CurrentTenant = Annotated[Principal, Depends(current_principal)]
