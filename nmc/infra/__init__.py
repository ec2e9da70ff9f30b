"""Infrastructure: settings, Kafka and Schema Registry clients, PostgreSQL engines and migrations.

Above the contract, below every domain process: it knows how to reach the services, never
what a domain does with them.
"""
