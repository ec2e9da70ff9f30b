"""The catalog domain: a tenant's bookable services."""
