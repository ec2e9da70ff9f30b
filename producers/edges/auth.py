"""Bearer JWT authentication of the command endpoints (`tenant_id` claim, optional `sub` user).

Verification is the platform's one verifier (`nmc.infra.bearer_tokens`), with the edges'
rules (`EdgeSettings.token_rules`: HS256, audience/issuer/leeway when configured); this module
only maps its refusals to the edges' 401 body and reads the user id.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from nmc.infra.bearer_tokens import InvalidToken, TokenRules, mint_token, verify_bearer
from producers.errors import Refused


@dataclass(frozen=True)
class Principal:
    """Who calls: every query of the request is scoped to `tenant_id`."""

    tenant_id: UUID
    user_id: UUID | None


def authenticate(authorization: str | None, rules: TokenRules) -> Principal:
    """401 unless the header carries a valid, unexpired token with a uuid tenant_id (and, when
    present, a uuid `sub`)."""
    try:
        token = verify_bearer(authorization, rules)
    except InvalidToken as exc:
        raise Refused(401, exc.reason, "Authorization") from None
    user_id: UUID | None = None
    if token.subject is not None:
        try:
            user_id = UUID(token.subject)
        except ValueError:
            raise Refused(401, "sub claim is not a uuid", "Authorization") from None
    return Principal(token.tenant_id, user_id)


def issue_token(rules: TokenRules, tenant_id: UUID, user_id: UUID | None, ttl_s: int,
                now: int) -> str:
    """A token for tests and operators (`nmc edge token`)."""
    return mint_token(rules, tenant_id, ttl_s, None if user_id is None else str(user_id), now)
