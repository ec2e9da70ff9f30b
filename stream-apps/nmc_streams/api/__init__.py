"""Tenant-scoped read API over the stream apps' read models (`nmc api`).

`app.create_app(settings)` is the composition root; routes live in `routes/`, SQL in
`queries.py`, and every query takes the tenant from the verified bearer token (`auth.py`),
never from a request parameter.
"""
