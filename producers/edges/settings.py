"""Configuration of the edge HTTP service and the SMS sender (env prefix ``NMC_EDGE_``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Plan = Literal["basic", "pro"]


class MissingSetting(RuntimeError):
    """A component started without a setting it cannot work without."""


class EdgeSettings(BaseSettings):
    """Edge service and SMS sender settings.

    Secrets are optional at construction so that each process checks only what it needs
    (`require`): the sender needs no Stripe secret, the webhooks need no REST credentials.
    """

    model_config = SettingsConfigDict(env_prefix="NMC_EDGE_", frozen=True, extra="ignore")

    public_base_url: str | None = Field(
        default=None,
        description="Public URL Twilio calls (scheme://host[:port], no trailing path); the "
        "X-Twilio-Signature is computed over it + request path + query.",
    )
    twilio_auth_token: SecretStr | None = Field(
        default=None, description="Twilio auth token that signs webhooks."
    )
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
    twilio_api_base: str = Field(
        default="https://api.twilio.com", description="Twilio REST base URL (tests: a fake)."
    )
    twilio_account_sid: str | None = Field(default=None, description="Sender: account SID.")
    twilio_api_auth_token: SecretStr | None = Field(
        default=None, description="Sender: REST auth token; defaults to twilio_auth_token."
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8090, ge=0, le=65535)
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
    sender_poll_interval_s: float = Field(default=1.0, gt=0)
    sender_http_timeout_s: float = Field(default=15.0, gt=0)

    @field_validator("public_base_url", "twilio_api_base")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return None if value is None else value.rstrip("/")

    @field_validator("jwt_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # RFC 7518 §3.2: an HS256 key shorter than the hash output is brute-forceable.
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (HS256 key)")
        return value

    def require(self, *names: str) -> None:
        """Fail with one message naming every missing setting (checked at start-up)."""
        missing = [n for n in names if getattr(self, n) in (None, "")]
        if missing:
            env = ", ".join(f"NMC_EDGE_{n.upper()}" for n in missing)
            raise MissingSetting(f"missing settings: {env}")

    @property
    def sender_token(self) -> SecretStr | None:
        return self.twilio_api_auth_token or self.twilio_auth_token
