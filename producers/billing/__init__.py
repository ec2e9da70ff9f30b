"""The billing domain: a tenant's subscription (Stripe) and its plan."""
