"""The wire contract of DESIGN.md §2: topics, keys, partitioning, schemas, headers."""
