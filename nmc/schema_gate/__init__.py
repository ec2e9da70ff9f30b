"""The schema compatibility gate and the explicit registration step (DESIGN.md §3).

`diff` and `policy` are pure (a structural Avro diff and the versioning rules); `registry` talks
to a Confluent-compatible Schema Registry over HTTP; `check` and `register` combine them; `cli`
exposes `nmc schemas check|register`.
"""
