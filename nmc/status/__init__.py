"""`nmc status`: the whole pipeline on one screen.

`model` holds the snapshot and the health rules (pure), `probe` collects a snapshot from
PostgreSQL and Kafka, `view` renders it. The exit code says whether the pipeline is healthy.
"""
