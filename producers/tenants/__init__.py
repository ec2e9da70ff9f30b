"""The tenant directory: who owns a Twilio number or a Stripe customer."""

from producers.tenants.store import (
    Tenant,
    UnknownTenant,
    add_tenant,
    get_tenant,
    list_tenants,
    tenant_for_number,
    tenant_for_stripe_customer,
)

__all__ = [
    "Tenant",
    "UnknownTenant",
    "add_tenant",
    "get_tenant",
    "list_tenants",
    "tenant_for_number",
    "tenant_for_stripe_customer",
]
