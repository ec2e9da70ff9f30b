"""`/v1/conversations`: the caller's conversations, newest activity first, and one with its
messages.

Both bodies come rendered from PostgreSQL (`body_queries`) and leave as they came: no row is
turned into Python objects (the models below only document the response in OpenAPI; the
integration tests check every body against them and against the old serialisation). Both
answer `If-None-Match` with 304 (`conditional`): a current tag costs one primary-key lookup
of the tenant's read version (`freshness`), not the body's query."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import Field
from starlette.responses import Response

from nmc_streams.api import body_queries, conditional, freshness
from nmc_streams.api import cursor as cursors
from nmc_streams.api.deps import CurrentTenant, database, settings_of, version_lookups
from nmc_streams.api.errors import ERROR_RESPONSES, NOT_FOUND, invalid, not_found
from nmc_streams.api.models import ConversationDetail, ConversationPage, ConversationStatus
from nmc_streams.api.params import Params, openapi_parameters, parse
from nmc_streams.api.validators import page_limit

# Full paths, no router prefix: `scope["route"].path` is then the whole template, which the
# metrics label and the tenancy test (routes collected from `app.routes`) rely on.
router = APIRouter(tags=["conversations"], responses=ERROR_RESPONSES)


class ListQuery(Params):
    status: ConversationStatus | None = Field(default=None, description="Only this status.")
    limit: int | None = Field(default=None, description="Page size (default and maximum are "
                              "NMC_API_PAGE_SIZE_DEFAULT / _MAX).")
    cursor: str | None = Field(default=None, max_length=cursors.MAX_CURSOR_LENGTH,
                               description="`next_cursor` of the previous page.")


class ConversationPath(Params):
    path = frozenset({"conversation_id"})
    conversation_id: UUID


async def _unchanged(request: Request, tenant_id: UUID, resource: str,
                     tags: list[str] | None) -> str | None:
    """The current tag of `resource` when `If-None-Match` names it: a 304 from the tenant's
    read version alone. None otherwise (no header, `*`, a stale tag): the body query decides."""
    if not tags or "*" in tags:
        return None
    version = await version_lookups(request).version(tenant_id, freshness.CONVERSATIONS)
    tag = freshness.entity_tag(tenant_id, body_queries.BODY_FORMAT, version, resource)
    return tag if tag in tags else None


@router.get("/v1/conversations", summary="List conversations (keyset pagination)",
            response_model=ConversationPage, responses=conditional.CONDITIONAL,
            openapi_extra=conditional.with_parameter(openapi_parameters(ListQuery)))
async def list_conversations(request: Request, who: CurrentTenant) -> Response:
    q = parse(ListQuery, request)
    settings = settings_of(request)
    size = page_limit(q.limit, settings.page_size_default, settings.page_size_max)
    try:
        after = None if q.cursor is None else cursors.decode(q.cursor)
    except cursors.InvalidCursor as exc:
        raise invalid("cursor", str(exc)) from None
    tags = conditional.requested_tags(request.headers.get("if-none-match"))
    resource = body_queries.list_resource(q.status, after, size)
    if (current := await _unchanged(request, who.tenant_id, resource, tags)) is not None:
        return conditional.not_modified(current)
    page = await database(request).run(
        body_queries.conversation_page, who.tenant_id, q.status, after, size)
    if conditional.matches(page.etag, tags):
        return conditional.not_modified(page.etag)
    next_cursor = "null" if page.last is None else f'"{cursors.encode(page.last)}"'
    return conditional.json_response(
        page.etag, f'{{"items":{page.body},"next_cursor":{next_cursor}}}')


@router.get("/v1/conversations/{conversation_id}", summary="One conversation with its messages",
            responses={**NOT_FOUND, **conditional.CONDITIONAL},
            response_model=ConversationDetail,
            openapi_extra=conditional.with_parameter(openapi_parameters(ConversationPath)))
async def get_conversation(request: Request, who: CurrentTenant) -> Response:
    p = parse(ConversationPath, request)
    tags = conditional.requested_tags(request.headers.get("if-none-match"))
    resource = body_queries.detail_resource(p.conversation_id)
    if (current := await _unchanged(request, who.tenant_id, resource, tags)) is not None:
        return conditional.not_modified(current)
    found = await database(request).run(
        body_queries.conversation_detail, who.tenant_id, p.conversation_id)
    if found is None:
        raise not_found("conversation", "conversation_id")
    if conditional.matches(found.etag, tags):
        return conditional.not_modified(found.etag)
    return conditional.json_response(found.etag, found.body)
