"""The edge's routes, one module per resource; `ROUTERS` is what `create_edge_app` serves, in
this order (a new webhook adds its module here: docs/producers/edges.md, "Adding a webhook")."""

from __future__ import annotations

from fastapi import APIRouter

from producers.edges.routes import (
    catalog,
    compliance,
    conversations,
    health,
    scheduling,
    stripe,
    twilio_messages,
    twilio_voice,
)

ROUTERS: tuple[APIRouter, ...] = (
    twilio_voice.router,
    twilio_messages.router,
    stripe.router,
    catalog.router,
    scheduling.router,
    compliance.router,
    conversations.router,
    health.router,
)
