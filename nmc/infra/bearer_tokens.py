"""The one JWT verifier and minter of the platform: the edges' command endpoints and the read
API both accept ``Authorization: Bearer <jwt>`` with a `tenant_id` claim.

The algorithm is pinned by the server (never the token's `alg`), `exp` and `tenant_id` are
required, and when an audience or issuer is configured the token must carry and match it;
`leeway_s` absorbs clock skew on `exp`/`nbf`/`iat`. Each adapter maps `InvalidToken` to its
own 401 body.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import jwt

REQUIRED_CLAIMS = ("exp", "tenant_id")


@dataclass(frozen=True)
class TokenRules:
    """What a token must satisfy (built from each component's settings)."""

    secret: str
    algorithm: str = "HS256"
    audience: str | None = None
    issuer: str | None = None
    leeway_s: float = 0.0


class InvalidToken(Exception):
    """A refused bearer token; `error` is the RFC 6750 code (`invalid_request` when no usable
    credentials were sent, `invalid_token` otherwise)."""

    def __init__(self, reason: str, error: str = "invalid_token") -> None:
        self.reason = reason
        self.error = error
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """The verified caller and the time (epoch seconds) its token stops being accepted."""

    tenant_id: UUID
    subject: str | None
    valid_until: float


def verify_bearer(authorization: str | None, rules: TokenRules) -> VerifiedToken:
    """Verify the ``Authorization`` header's bearer JWT against `rules`; `InvalidToken` on any
    defect, with the reason."""
    if not authorization:
        raise InvalidToken("missing bearer token", "invalid_request")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise InvalidToken("expected 'Bearer <token>'", "invalid_request")
    try:
        claims = jwt.decode(
            token,
            rules.secret,
            algorithms=[rules.algorithm],
            audience=rules.audience,
            issuer=rules.issuer,
            leeway=rules.leeway_s,
            options={
                "require": [*REQUIRED_CLAIMS,
                            *(["aud"] if rules.audience else []),
                            *(["iss"] if rules.issuer else [])],
                "verify_aud": rules.audience is not None,
            },
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("token expired") from None
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"invalid token: {exc}") from None
    try:
        tenant_id = UUID(str(claims["tenant_id"]))
    except ValueError:
        raise InvalidToken("tenant_id claim is not a uuid") from None
    sub = claims.get("sub")
    # PyJWT accepts the token while now < exp + leeway (`exp` is required, checked above)
    return VerifiedToken(tenant_id, None if sub is None else str(sub),
                         float(claims["exp"]) + rules.leeway_s)


def mint_token(rules: TokenRules, tenant_id: UUID, ttl_s: float = 3600.0,
               subject: str | None = None, now: float | None = None,
               **extra_claims: Any) -> str:
    """A token `verify_bearer` accepts under `rules` — for tests, the demo, the bench and
    operators (`nmc edge token`). Production tokens come from the identity provider."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {"tenant_id": str(tenant_id), "iat": issued,
                              "exp": issued + int(ttl_s)}
    if subject is not None:
        claims["sub"] = subject
    if rules.audience is not None:
        claims["aud"] = rules.audience
    if rules.issuer is not None:
        claims["iss"] = rules.issuer
    claims.update(extra_claims)
    return jwt.encode(claims, rules.secret, algorithm=rules.algorithm)
