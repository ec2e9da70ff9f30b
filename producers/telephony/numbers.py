"""The tenant a provider callback is about, found by the phone number it owns."""

from __future__ import annotations

from sqlalchemy.orm import Session

from producers.errors import Refused
from producers.tenants import Tenant, UnknownTenant, tenant_for_number


def tenant_owning(session: Session, number: str, field: str) -> Tenant:
    """The tenant owning `number`; 404 naming `field` when nobody does."""
    try:
        return tenant_for_number(session, number)
    except UnknownTenant:
        raise Refused(404, f"unknown tenant: no tenant owns {number}", field) from None
