"""Ingestion edges: Twilio and Stripe webhooks and the domain command endpoints.

Every request is one transaction: its own rows and its events (through the outbox writer)
commit together or not at all.
"""
