"""Bearer-token authentication: a JWT signed with the configured HMAC key carries the tenant.

The tenant a request may read comes from here and only from here; no route takes a tenant
from a path or query parameter, so a token for tenant A cannot name tenant B.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import jwt

from nmc_streams.api.errors import ApiError
from nmc_streams.api.settings import ApiSettings

REQUIRED_CLAIMS = ("exp", "tenant_id")


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified caller: every query of the request is scoped to `tenant_id`."""

    tenant_id: UUID
    subject: str | None = None


def unauthorized(reason: str, error: str = "invalid_token") -> ApiError:
    """401 with the RFC 6750 challenge, so clients know to (re)authenticate."""
    safe = reason.replace("\\", "").replace('"', "'")
    challenge = f'Bearer error="{error}", error_description="{safe}"'
    if error == "invalid_request" and reason == "missing bearer token":
        challenge = "Bearer"  # RFC 6750 §3.1: no error code when no credentials were sent
    return ApiError(401, "Authorization", reason, "header", {"WWW-Authenticate": challenge})


def _verify(authorization: str | None, settings: ApiSettings) -> tuple[Principal, float]:
    """The caller and the time (epoch seconds) its token stops being accepted."""
    if not authorization:
        raise unauthorized("missing bearer token", "invalid_request")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("expected 'Bearer <token>'", "invalid_request")
    try:
        claims = jwt.decode(
            token,
            settings.secret,
            algorithms=[settings.jwt_algorithm],  # pinned: never trust the token's `alg`
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=settings.jwt_leeway_s,
            options={
                "require": [*REQUIRED_CLAIMS,
                            *(["aud"] if settings.jwt_audience else []),
                            *(["iss"] if settings.jwt_issuer else [])],
                "verify_aud": settings.jwt_audience is not None,
            },
        )
    except jwt.ExpiredSignatureError:
        raise unauthorized("token expired") from None
    except jwt.PyJWTError as exc:
        raise unauthorized(f"invalid token: {exc}") from None
    try:
        tenant_id = UUID(str(claims["tenant_id"]))
    except ValueError:
        raise unauthorized("tenant_id claim is not a uuid") from None
    sub = claims.get("sub")
    # PyJWT accepts the token while now < exp + leeway (`exp` is an int, checked above)
    return Principal(tenant_id, None if sub is None else str(sub)), \
        float(claims["exp"]) + settings.jwt_leeway_s


def authenticate(authorization: str | None, settings: ApiSettings) -> Principal:
    """Verify ``Authorization: Bearer <jwt>``; 401 (with the reason) on any defect."""
    return _verify(authorization, settings)[0]


class TokenVerifier:
    """`authenticate` with a memory: the one JWT verifier of the API.

    A client sends the same token with every request until it expires; checking its HMAC and
    claims each time is the largest CPU cost of a small read. A token that verified once is
    remembered, keyed by the whole header (any other byte is another key, so a forged or
    altered token never hits), until its own `exp` (+ leeway): the only claim that can turn a
    valid token invalid later. `nbf`/`iat` only go from invalid to valid, and an invalid
    token is never stored. At most `jwt_cache_size` entries; the oldest goes first."""

    def __init__(self, settings: ApiSettings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._clock = clock
        self._size = settings.jwt_cache_size
        self._known: dict[str, tuple[Principal, float]] = {}

    def authenticate(self, authorization: str | None) -> Principal:
        if authorization is not None:
            known = self._known.get(authorization)
            if known is not None:
                if self._clock() < known[1]:
                    return known[0]
                del self._known[authorization]
        principal, until = _verify(authorization, self.settings)
        if self._size and authorization is not None:
            if len(self._known) >= self._size:
                del self._known[next(iter(self._known))]
            self._known[authorization] = (principal, until)
        return principal


def issue_token(settings: ApiSettings, tenant_id: UUID, ttl_s: float = 3600.0,
                subject: str | None = None, now: float | None = None) -> str:
    """Mint a token for `tenant_id` — a **dev tool** for tests, demos and the bench.

    Production tokens come from the identity provider that shares the key; this helper
    exists so nobody hand-crafts claims (and forgets `exp`)."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, object] = {
        "tenant_id": str(tenant_id), "iat": issued, "exp": issued + int(ttl_s),
    }
    if subject is not None:
        claims["sub"] = subject
    if settings.jwt_audience is not None:
        claims["aud"] = settings.jwt_audience
    if settings.jwt_issuer is not None:
        claims["iss"] = settings.jwt_issuer
    return jwt.encode(claims, settings.secret, algorithm=settings.jwt_algorithm)
