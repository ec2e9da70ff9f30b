"""Bearer-token authentication: a JWT signed with the configured HMAC key carries the tenant.

The tenant a request may read comes from here and only from here; no route takes a tenant
from a path or query parameter, so a token for tenant A cannot name tenant B.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from nmc.infra.bearer_tokens import InvalidToken, TokenRules, mint_token, verify_bearer
from nmc_streams.api.errors import ApiError
from nmc_streams.api.settings import ApiSettings


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


def token_rules(settings: ApiSettings) -> TokenRules:
    """The API's token rules: its key, pinned algorithm, audience, issuer and leeway."""
    return TokenRules(settings.secret, settings.jwt_algorithm, settings.jwt_audience,
                      settings.jwt_issuer, settings.jwt_leeway_s)


def _verify(authorization: str | None, settings: ApiSettings) -> tuple[Principal, float]:
    """The caller and the time (epoch seconds) its token stops being accepted."""
    try:
        token = verify_bearer(authorization, token_rules(settings))
    except InvalidToken as exc:
        raise unauthorized(exc.reason, exc.error) from None
    return Principal(token.tenant_id, token.subject), token.valid_until


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
    return mint_token(token_rules(settings), tenant_id, ttl_s, subject, now)
