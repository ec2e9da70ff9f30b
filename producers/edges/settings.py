"""Configuration of the edge HTTP service (env prefix ``NMC_EDGE_``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

from nmc.infra.bearer_tokens import TokenRules
from producers.telephony.settings import EDGE_ENV, TwilioAccount

Plan = Literal["basic", "pro"]


class EdgeSettings(TwilioAccount, BaseSettings):
    """Edge service settings (the sender's are `producers.sender.settings.SenderSettings`;
    the Twilio account fields both read are `producers.telephony.settings.TwilioAccount`).

    Secrets are optional at construction so that each route checks only what it needs
    (`require`): a Twilio-only deployment needs no Stripe secret.
    """

    model_config = EDGE_ENV

    stripe_webhook_secret: SecretStr | None = Field(
        default=None, description="Stripe endpoint signing secret (whsec_...)."
    )
    stripe_tolerance_s: int = Field(
        default=300, gt=0, description="Max age of a Stripe-Signature timestamp, seconds."
    )
    price_plans: dict[str, Plan] = Field(
        default_factory=dict,
        description='Stripe price id -> plan, JSON in env: {"price_123": "pro"}.',
    )
    jwt_secret: SecretStr | None = Field(
        default=None, description="HS256 secret of the command endpoints' bearer tokens."
    )
    jwt_audience: str | None = Field(
        default=None, description="When set, tokens must carry this `aud`."
    )
    jwt_issuer: str | None = Field(
        default=None, description="When set, tokens must carry this `iss`."
    )
    jwt_leeway_s: float = Field(
        default=0.0, ge=0, description="Clock skew allowed on `exp`/`nbf`/`iat`, seconds."
    )
    host: str = Field(default="127.0.0.1", description="Interface `nmc edge serve` binds.")
    port: int = Field(default=8090, ge=0, le=65535, description="Port of `nmc edge serve`.")
    thread_idle_s: float = Field(
        default=7 * 24 * 3600.0,
        gt=0,
        description="A thread idle this long is closed; the caller's next contact opens a new "
        "one (new correlation_id).",
    )
    max_hold_ttl_s: int = Field(default=3600, gt=0, description="Longest allowed hold TTL.")
    tx_retry_attempts: int = Field(
        default=8, ge=1, le=50,
        description="Tries of a request's transaction on a deadlock / serialization failure "
        "(full-jitter exponential backoff) before it answers 503 with Retry-After.",
    )
    tx_retry_max_s: float = Field(
        default=0.5, gt=0, le=10,
        description="Cap of one backoff wait between those tries, seconds.",
    )

    @field_validator("jwt_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # RFC 7518 §3.2: an HS256 key shorter than the hash output is brute-forceable.
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (HS256 key)")
        return value

    def token_rules(self) -> TokenRules:
        """What a command token must satisfy (`jwt_secret` must be set: `require` it first)."""
        assert self.jwt_secret is not None
        return TokenRules(self.jwt_secret.get_secret_value(), "HS256", self.jwt_audience,
                          self.jwt_issuer, self.jwt_leeway_s)
