"""Settings of the read API (env prefix ``NMC_API_``).

The database comes from the platform's `nmc.infra.settings.Settings` (``DATABASE_URL`` or the local
stack), so there is one place that says where PostgreSQL is.
"""

from __future__ import annotations

import logging
import secrets
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)

MIN_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key at least as long as the hash output


class ApiSettings(BaseSettings):
    """Knobs of `nmc api`; every field can be set as ``NMC_API_<FIELD>``.

    The JWT secret is **required**: a read API that silently starts with a guessable or
    well-known key would hand every tenant's data to anyone who can mint a token. The one
    escape hatch is ``NMC_API_DEV_MODE=true`` (laptops, demos, benches): without a secret, a
    random per-process secret is generated and a warning logged. Tokens minted with it die
    with the process, which is exactly what a dev tool wants and a deployment would notice
    at once. A secret shorter than 32 bytes is refused in every mode.
    """

    model_config = SettingsConfigDict(env_prefix="NMC_API_", frozen=True, extra="ignore")

    host: str = Field(default="127.0.0.1", description="Interface uvicorn binds.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port; 0 = any free port.")
    dev_mode: bool = Field(
        default=False,
        description="Allow starting without NMC_API_JWT_SECRET (random per-process secret).",
    )
    jwt_secret: SecretStr | None = Field(
        default=None, description="HMAC key of the bearer tokens (>= 32 bytes); required."
    )
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = Field(
        default="HS256", description="JWT signature algorithm (HMAC family only)."
    )
    jwt_audience: str | None = Field(
        default=None, description="When set, tokens must carry this `aud`."
    )
    jwt_issuer: str | None = Field(
        default=None, description="When set, tokens must carry this `iss`."
    )
    jwt_leeway_s: float = Field(default=10.0, ge=0, description="Clock skew allowed on `exp`.")
    page_size_default: int = Field(default=50, ge=1, description="List size without `limit`.")
    page_size_max: int = Field(default=200, ge=1, description="Largest `limit` accepted.")
    max_range_days: int = Field(
        default=31, ge=1, description="Longest from..to window of appointment/hold queries."
    )
    max_report_days: int = Field(
        default=366, ge=1, description="Longest from..to window of daily reports (inclusive)."
    )
    jwt_cache_size: int = Field(
        default=4096, ge=0, description="Verified tokens remembered per process (until their "
        "`exp`), so a client's repeated requests skip the signature check; 0 disables.",
    )
    gc_freeze: bool = Field(
        default=True, description="After start-up, exempt the objects alive then from "
        "garbage collection (`gc.freeze`): full collections stop pausing requests.",
    )
    db_pool_size: int = Field(
        default=16, ge=1, description="PostgreSQL connections per process, all opened at "
        "start-up (size it to the expected concurrency: a request waits for a free one).",
    )
    db_pool_timeout_s: float = Field(
        default=5.0, gt=0, description="Longest wait for a free pooled connection (-> 503).",
    )
    db_prepared_statements: bool = Field(
        default=True, description="Prepare every query on the server at its first use per "
        "connection (parse and plan once); false behind a pooler that cannot keep them.",
    )
    database_url: SecretStr | None = Field(
        default=None, description="PostgreSQL URL of the read API: a role that may only SELECT "
        "the read models (the local stack's `nmc_api`); unset = DATABASE_URL.",
    )
    db_connect_timeout_s: int = Field(
        default=3, ge=1, description="libpq connect_timeout: bounds how long /readyz waits."
    )
    db_statement_timeout_ms: int = Field(
        default=5000, ge=0, description="Per-statement timeout; 0 disables it."
    )
    workers: int = Field(default=1, ge=1, description="uvicorn worker processes.")
    log_level: str = Field(default="info", description="uvicorn log level.")

    @model_validator(mode="after")
    def _secret(self) -> Self:
        if self.page_size_default > self.page_size_max:
            raise ValueError("NMC_API_PAGE_SIZE_DEFAULT must not exceed NMC_API_PAGE_SIZE_MAX")
        if self.jwt_secret is None:
            if not self.dev_mode:
                raise ValueError(
                    "NMC_API_JWT_SECRET is required (or NMC_API_DEV_MODE=true for a random "
                    "per-process secret)"
                )
            log.warning("NMC_API_JWT_SECRET unset: dev mode, using a random per-process secret")
            # frozen model: bypass __setattr__ once, at construction
            object.__setattr__(self, "jwt_secret", SecretStr(secrets.token_urlsafe(48)))
        elif len(self.jwt_secret.get_secret_value().encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"NMC_API_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes")
        return self

    @property
    def secret(self) -> str:
        """The signing key (always set after validation)."""
        assert self.jwt_secret is not None
        return self.jwt_secret.get_secret_value()
