"""Configuration of the SMS sender (env prefix ``NMC_EDGE_``, shared with the edges: the
sender reports to the same public URL and signs in with the same Twilio account)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

from producers.telephony.settings import EDGE_ENV, TwilioAccount


class SenderSettings(TwilioAccount, BaseSettings):
    """Twilio REST credentials and the sender loop's pacing (the account fields the edges
    read too come from `TwilioAccount`)."""

    model_config = EDGE_ENV

    twilio_api_base: str = Field(
        default="https://api.twilio.com", description="Twilio REST base URL (tests: a fake)."
    )
    twilio_account_sid: str | None = Field(default=None, description="Account SID.")
    twilio_api_auth_token: SecretStr | None = Field(
        default=None, description="REST auth token; defaults to twilio_auth_token."
    )
    sender_poll_interval_s: float = Field(
        default=1.0, gt=0, description="Fallback poll period: a queued text wakes the sender at "
        "once through NOTIFY (channel nmc_sender); this catches a lost wake-up and reconciles.",
    )
    sender_http_timeout_s: float = Field(default=15.0, gt=0, description="REST call timeout.")
    sender_concurrency: int = Field(
        default=8, ge=1, le=256, description="Texts in flight at once (worker threads, each "
        "with its own keep-alive HTTP session).",
    )
    sender_number_rate_per_s: float = Field(
        default=1.0, ge=0, description="Most texts a second per sending number (Twilio's "
        "per-number throughput); 0: unlimited.",
    )
    sender_campaign_rate_per_s: float = Field(
        default=0.0, ge=0, description="Most texts a second per tenant (its 10DLC campaign's "
        "throughput); 0: unlimited.",
    )
    sender_throttle_attempts: int = Field(
        default=6, ge=1, description="Tries of a text Twilio refuses with 429 / 20429 (not "
        "accepted, so safe to retry) before it is recorded failed.",
    )
    sender_metrics_port: int = Field(
        default=0, ge=0, le=65535, description="Port of `nmc sender run`'s /metrics and "
        "/healthz; 0: off.",
    )
    sender_throttle_backoff_max_s: float = Field(
        default=10.0, gt=0, description="Cap of the exponential, full-jitter backoff between "
        "those tries.",
    )

    @field_validator("twilio_api_base")
    @classmethod
    def _api_base_without_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def sender_token(self) -> SecretStr | None:
        return self.twilio_api_auth_token or self.twilio_auth_token
