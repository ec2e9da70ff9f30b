"""Configuration of the SMS sender (env prefix ``NMC_EDGE_``, shared with the edges: the
sender reports to the same public URL and signs in with the same Twilio account)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from nmc.infra.settings import require


class SenderSettings(BaseSettings):
    """Twilio REST credentials and the sender loop's pacing."""

    model_config = SettingsConfigDict(env_prefix="NMC_EDGE_", frozen=True, extra="ignore")

    public_base_url: str | None = Field(
        default=None,
        description="Public URL of the edges: the status callback of every text sent.",
    )
    twilio_api_base: str = Field(
        default="https://api.twilio.com", description="Twilio REST base URL (tests: a fake)."
    )
    twilio_account_sid: str | None = Field(default=None, description="Account SID.")
    twilio_api_auth_token: SecretStr | None = Field(
        default=None, description="REST auth token; defaults to twilio_auth_token."
    )
    twilio_auth_token: SecretStr | None = Field(
        default=None, description="Twilio auth token (the webhooks' one), the REST fallback."
    )
    sender_poll_interval_s: float = Field(default=1.0, gt=0, description="Idle poll period.")
    sender_http_timeout_s: float = Field(default=15.0, gt=0, description="REST call timeout.")

    @field_validator("public_base_url", "twilio_api_base")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return None if value is None else value.rstrip("/")

    def require(self, *names: str) -> None:
        """Fail with one message naming every missing setting (checked at start-up)."""
        require(self, "NMC_EDGE_", *names)

    @property
    def sender_token(self) -> SecretStr | None:
        return self.twilio_api_auth_token or self.twilio_auth_token
