"""`PUT /v1/catalog/items/{item_id}`: a tenant's bookable service (`producers.catalog`)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter
from pydantic import Field

from producers.bounds import Cents, StoredText
from producers.catalog import items as catalog
from producers.edges.bodies import Body
from producers.edges.deps import Caller, EdgeDep, event_ref, now

router = APIRouter()


class CatalogItemIn(Body):
    name: StoredText = Field(min_length=1, max_length=200)
    price_cents: Cents
    duration_minutes: int = Field(gt=0, le=24 * 60)
    active: bool = True


@router.put("/v1/catalog/items/{item_id}")
def put_catalog_item(item_id: UUID, body: CatalogItemIn, who: Caller,
                     edge: EdgeDep) -> dict[str, Any]:
    item = catalog.CatalogItem(item_id, body.name, body.price_cents, body.duration_minutes,
                               body.active)
    event = edge.transaction(lambda s: catalog.upsert_catalog_items(
        s, edge.writer, who.tenant_id, [item], now()))
    return {"item_id": str(item_id), "changed": event is not None, "event": event_ref(event)}
