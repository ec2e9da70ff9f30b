"""Dependencies of the routes: `CurrentTenant`, the one dependency every `/v1` route has
(it also documents the bearer scheme in OpenAPI), and plain accessors of what the
composition root put on `app.state`.

The accessors are functions, not `Depends`: each FastAPI dependency is re-solved on every
request (measured ~10 us each), and these only read an attribute. `DbDep`/`SettingsDep`
stay for routes that prefer the declarative form. All async: a sync dependency would cost a
worker-thread hop per request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from nmc_streams.api.auth import Principal, TokenVerifier
from nmc_streams.api.database import Database
from nmc_streams.api.freshness import VersionLookups
from nmc_streams.api.settings import ApiSettings

# Documents the scheme in OpenAPI; the header itself is checked by the verifier, which
# gives every defect its own 401 reason (HTTPBearer would answer 403 without one).
_bearer = HTTPBearer(auto_error=False, description="JWT with a `tenant_id` claim.")


def settings_of(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


def database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def version_lookups(request: Request) -> VersionLookups:
    versions: VersionLookups = request.app.state.versions
    return versions


async def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def current_principal(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> Principal:
    """The verified caller; 401 otherwise (CPU only, and cached per token)."""
    verifier: TokenVerifier = request.app.state.verifier
    return verifier.authenticate(request.headers.get("authorization"))


SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
DbDep = Annotated[Database, Depends(get_db)]
CurrentTenant = Annotated[Principal, Depends(current_principal)]
