"""The base of the command endpoints' JSON bodies: unknown fields are refused (400)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
