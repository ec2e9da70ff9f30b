"""The Twilio account fields the edges and the sender share (env prefix ``NMC_EDGE_``):
declared once here, inherited by `EdgeSettings` and `SenderSettings`."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from nmc.infra.settings import require

ENV_PREFIX = "NMC_EDGE_"
# Both classes read the same variables: one prefix, frozen, other variables ignored.
EDGE_ENV = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")


class TwilioAccount(BaseModel):
    """Mixed into a `BaseSettings` of prefix `ENV_PREFIX` (a plain model: not a settings
    class of its own, so the reference lists its fields under each class that reads them)."""

    public_base_url: str | None = Field(
        default=None,
        description="Public URL of the edges (scheme://host[:port], no trailing path): Twilio "
        "calls it, the X-Twilio-Signature is computed over it + request path + query, and "
        "the sender points every text's status callback at it.",
    )
    twilio_auth_token: SecretStr | None = Field(
        default=None, description="Twilio auth token: signs the webhooks; the sender's REST "
        "fallback.",
    )

    @field_validator("public_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return None if value is None else value.rstrip("/")

    def require(self, *names: str) -> None:
        """Fail with one message naming every missing setting (checked at start-up)."""
        require(self, ENV_PREFIX, *names)
