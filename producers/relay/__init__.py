"""The outbox relay: PostgreSQL `outbox_events` -> one Kafka topic per domain."""
