"""Conditional GET (RFC 9110 §13.1.2): `ETag` on every rendered body, `If-None-Match` -> 304.

Inbox screens poll; an unchanged page then costs a 304 without a body and without the body's
query (`freshness`). Tags are strong (equal tag = equal bytes) and compared weakly,
as the RFC asks for `If-None-Match`, so a `W/` prefix a proxy added still matches.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.responses import Response

# Tenant data behind a bearer token: a browser may keep it, must revalidate before reuse.
CACHE_CONTROL: Final = "private, no-cache"
MAX_TAGS: Final = 32  # a longer list is not a client of ours; compare the first ones only

_TAG_HEADERS = {
    "ETag": {"description": "Strong tag of this body; send it back in `If-None-Match`.",
             "schema": {"type": "string"}},
    "Cache-Control": {"description": f"`{CACHE_CONTROL}`.", "schema": {"type": "string"}},
}
CONDITIONAL: dict[int | str, dict[str, Any]] = {
    200: {"headers": _TAG_HEADERS},
    304: {"description": "Not modified: `If-None-Match` named the current `ETag` (no body).",
          "headers": _TAG_HEADERS},
}
IF_NONE_MATCH: Final[dict[str, Any]] = {
    "name": "If-None-Match", "in": "header", "required": False,
    "schema": {"type": "string"},
    "description": "`ETag` of a previous response; the same state answers 304 without a body.",
}


def requested_tags(header: str | None) -> list[str] | None:
    """The opaque tags of an `If-None-Match` value (`*` kept as is); None when absent."""
    if not header:
        return None
    tags = []
    for part in header.split(",")[:MAX_TAGS]:
        tag = part.strip().removeprefix("W/").strip('"')
        if tag:
            tags.append(tag)
    return tags or None


def headers(etag: str) -> dict[str, str]:
    return {"ETag": f'"{etag}"', "Cache-Control": CACHE_CONTROL}


def matches(etag: str, tags: list[str] | None) -> bool:
    """Does `If-None-Match` (its tags, `requested_tags`) name the current `etag`?"""
    return tags is not None and (etag in tags or "*" in tags)


def not_modified(etag: str) -> Response:
    """304: the client's copy is current (no body)."""
    return Response(status_code=304, headers=headers(etag))


def json_response(etag: str, body: bytes | str) -> Response:
    """200 with the rendered JSON body and its tag."""
    return Response(body, media_type="application/json", headers=headers(etag))


def with_parameter(openapi_extra: dict[str, Any]) -> dict[str, Any]:
    """A route's `openapi_extra` with the `If-None-Match` header documented."""
    return {**openapi_extra, "parameters": [*openapi_extra.get("parameters", ()),
                                            IF_NONE_MATCH]}
