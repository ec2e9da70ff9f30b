"""Everything that puts facts on Kafka: envelope, outbox writer, relay."""
