"""One serialisation per response: rows go from the driver to JSON bytes in one step.

A route returns `JsonBody(...)`, so FastAPI neither validates the value against the route's
`response_model` nor runs `jsonable_encoder`; the model stays on the route for OpenAPI. The
values are the driver's (text, int, aware datetime, date, float, None), serialised by
pydantic-core's encoder, the same one `response_model` would have used, so the bytes are those
the model gave (datetimes in ISO 8601 with `Z` for UTC). The integration tests validate every
body against its declared model, so a shape drift fails there.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import to_json
from starlette.responses import Response


class JsonBody(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return to_json(content)
