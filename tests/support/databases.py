"""Scratch databases: a fresh, fully migrated PostgreSQL database per test or bench run.

Migrating a database costs ~0.4 s and dropping one forces a checkpoint; a suite makes hundreds.
So the migrations run once into a template database named after their content hash
(`nmc_tpl_<hash>`, kept between runs; a changed migration makes a new one), each scratch
database is a copy of it (`CREATE DATABASE … TEMPLATE`, ~0.08 s), and drops happen on a
background thread that the interpreter drains at exit.
"""

from __future__ import annotations

import atexit
import hashlib
import queue
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, make_url, text
from sqlalchemy.exc import DBAPIError
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from nmc.infra.db import PLATFORM_MIGRATIONS, READ_MODEL_MIGRATIONS, make_engine, upgrade

_templates: dict[str, str] = {}
_template_lock = threading.Lock()


def migrations_hash() -> str:
    digest = hashlib.sha256()
    for tree in (PLATFORM_MIGRATIONS, READ_MODEL_MIGRATIONS):
        for path in sorted(tree.rglob("*.py")):
            digest.update(str(path.relative_to(tree)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _template(admin: Engine, url: str) -> str:
    """The migrated template of this server, made once (an advisory lock serialises pytest
    workers and checkouts sharing the server)."""
    with _template_lock:
        cached = _templates.get(url)
        if cached:
            return cached
        name = f"nmc_tpl_{migrations_hash()}"
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(hashtext('nmc-test-template'))"))
            try:
                exists = conn.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
                ).first()
                if not exists:
                    building = f"{name}_building"
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)'))
                    conn.execute(text(f'CREATE DATABASE "{building}"'))
                    upgrade(make_url(url).set(database=building)
                            .render_as_string(hide_password=False))
                    conn.execute(text(f'ALTER DATABASE "{building}" RENAME TO "{name}"'))
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(hashtext('nmc-test-template'))"))
        _templates[url] = name
        return name


@contextmanager
def scratch_database(url: str, prefix: str = "nmc_scratch") -> Iterator[str]:
    """A fresh, fully migrated database next to `url`'s, dropped after exit (in the background).

    The role of `url` needs CREATEDB (the local stack's `nmc` role has it)."""
    admin_url = make_url(url)
    admin_str = admin_url.render_as_string(hide_password=False)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = make_engine(admin_str, isolation_level="AUTOCOMMIT")
    try:
        template = _template(admin, admin_str)
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    finally:
        admin.dispose()
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        _DROPS.put((admin_str, name))


_DROPS: queue.Queue[tuple[str, str] | None] = queue.Queue()


def _dropper() -> None:
    engines: dict[str, Engine] = {}
    while (item := _DROPS.get()) is not None:
        admin_url, name = item
        try:
            if admin_url not in engines:
                engines[admin_url] = make_engine(admin_url, isolation_level="AUTOCOMMIT")
            _drop_database(engines[admin_url], name)
        except Exception as exc:  # a leftover scratch database is no reason to fail a test
            print(f"scratch database {name} not dropped: {exc}")
        finally:
            _DROPS.task_done()
    for engine in engines.values():
        engine.dispose()


_DROPPER = threading.Thread(target=_dropper, name="scratch-db-dropper", daemon=True)
_DROPPER.start()


@atexit.register
def _drain() -> None:
    _DROPS.put(None)
    _DROPPER.join(timeout=120)


@retry(stop=stop_after_attempt(5), wait=wait_random_exponential(multiplier=0.2, max=2),
       retry=retry_if_exception_type(DBAPIError), reraise=True)
def _drop_database(admin: Engine, name: str) -> None:
    # FORCE cannot terminate another role's backend (an autovacuum worker, say); it ends soon.
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
