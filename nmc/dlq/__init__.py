"""`nmc dlq`: inspect, replay and purge dead letters (the table joined with `nmc.dlq.<group>`)."""
