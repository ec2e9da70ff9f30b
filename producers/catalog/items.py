"""Catalog commands: each one transaction writing its rows and its event through the outbox.
Every query is scoped to the caller's tenant; another tenant's ids are simply "not found"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from nmc.contract.envelope import Envelope
from nmc.contract.ids import stable_id
from producers.outbox import OutboxWriter, emit
from producers.tables import catalog_items


@dataclass(frozen=True)
class CatalogItem:
    item_id: UUID
    name: str
    price_cents: int
    duration_minutes: int
    active: bool


def upsert_catalog_items(
    session: Session,
    writer: OutboxWriter,
    tenant_id: UUID,
    items: Sequence[CatalogItem],
    now: datetime,
) -> Envelope | None:
    """Create or update items; one CatalogUpdated naming the items that really changed
    (an identical PUT is a no-op: no event)."""
    changed: list[UUID] = []
    for item in items:
        values = {"name": item.name, "price_cents": item.price_cents,
                  "duration_minutes": item.duration_minutes, "active": item.active}
        current = session.execute(
            select(catalog_items).where(catalog_items.c.tenant_id == tenant_id,
                                        catalog_items.c.item_id == item.item_id)
            .with_for_update()
        ).first()
        if current is not None and all(getattr(current, k) == v for k, v in values.items()):
            continue
        session.execute(
            insert(catalog_items)
            .values(tenant_id=tenant_id, item_id=item.item_id, updated_at=now, **values)
            .on_conflict_do_update(index_elements=["tenant_id", "item_id"],
                                   set_={**values, "updated_at": now})
        )
        changed.append(item.item_id)
    if not changed:
        return None
    return emit(session, writer, "nmc.catalog.CatalogUpdated", tenant_id,
                 stable_id("catalog", tenant_id),  # one key per tenant catalog: in order
                 {"updated_item_ids": [str(i) for i in changed], "full_refresh": False}, now)
