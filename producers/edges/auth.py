"""Bearer JWT authentication of the command endpoints (HS256, `tenant_id` claim)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import jwt

from producers.errors import EdgeError

ALGORITHM = "HS256"


@dataclass(frozen=True)
class Principal:
    """Who calls: every query of the request is scoped to `tenant_id`."""

    tenant_id: UUID
    user_id: UUID | None


def authenticate(authorization: str | None, secret: str) -> Principal:
    """401 unless the header carries a valid, unexpired HS256 token with a uuid tenant_id."""
    if not authorization:
        raise EdgeError(401, "missing bearer token", "Authorization")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise EdgeError(401, "expected 'Bearer <token>'", "Authorization")
    try:
        claims = jwt.decode(token.strip(), secret, algorithms=[ALGORITHM],
                            options={"require": ["exp", "tenant_id"]})
    except jwt.PyJWTError as exc:
        raise EdgeError(401, f"invalid token: {exc}", "Authorization") from None
    try:
        tenant_id = UUID(str(claims["tenant_id"]))
    except ValueError:
        raise EdgeError(401, "tenant_id claim is not a uuid", "Authorization") from None
    user_id: UUID | None = None
    if claims.get("sub") is not None:
        try:
            user_id = UUID(str(claims["sub"]))
        except ValueError:
            raise EdgeError(401, "sub claim is not a uuid", "Authorization") from None
    return Principal(tenant_id, user_id)


def issue_token(secret: str, tenant_id: UUID, user_id: UUID | None, ttl_s: int,
                now: int) -> str:
    """A token for tests and operators (`nmc edge token`)."""
    claims: dict[str, object] = {"tenant_id": str(tenant_id), "exp": now + ttl_s, "iat": now}
    if user_id is not None:
        claims["sub"] = str(user_id)
    return jwt.encode(claims, secret, algorithm=ALGORITHM)
