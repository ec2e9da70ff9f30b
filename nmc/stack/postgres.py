"""PostgreSQL from Debian's package, run from a data directory under nmc_home.

PostgreSQL refuses to run as root, so as root every server-side command goes through
`runuser -u postgres --` and the directories it writes are chowned to `postgres`. When that user
cannot reach nmc_home (a checkout under a 0700 directory), the server's files live under
`/var/lib/postgresql/nmc/<hash of nmc_home>/` instead (`Layout.of`), and its commands run from
there: a working directory the postgres user cannot enter breaks pg_ctl.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import psycopg
from psycopg import sql

from nmc.infra.db_roles import process_roles
from nmc.stack import pidfile, render
from nmc.stack.errors import StackError
from nmc.stack.layout import Layout
from nmc.stack.model import Say
from nmc.stack.procs import last_line, require_free, run_checked
from nmc.stack.settings import StackSettings

NAME = "postgres"
PG_ROOT = Path("/usr/lib/postgresql")


def pick_bin_dir(candidates: list[Path]) -> Path | None:
    """The newest `/usr/lib/postgresql/<ver>/bin` that has pg_ctl (pure: given the listing)."""
    usable = [c for c in candidates if re.fullmatch(r"\d+(\.\d+)?", c.parent.name)]
    usable.sort(key=lambda c: float(c.parent.name), reverse=True)
    return usable[0] if usable else None


def bin_dir() -> Path:
    found = pick_bin_dir([p.parent for p in PG_ROOT.glob("*/bin/pg_ctl")])
    if found is None:
        raise StackError(NAME, f"no PostgreSQL server in {PG_ROOT}: apt-get install postgresql")
    return found


def _as_pg() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _own(*paths: Path) -> None:
    """Hand `paths` to the postgres user when we are root (it cannot write root's files)."""
    if os.geteuid() != 0:
        return
    for path in paths:
        shutil.chown(path, user="postgres", group="postgres")


def running_pid(layout: Layout) -> int | None:
    """The postmaster's pid if our data directory's server is running."""
    try:
        pid = pidfile.parse_postmaster_pid((layout.pg_data / "postmaster.pid").read_text())
    except OSError:
        return None
    if pid is None or not pidfile.is_alive(pidfile.PidRecord(pid)):
        return None
    return pid


def _prepare(settings: StackSettings, layout: Layout, bins: Path, say: Say) -> None:
    data = layout.pg_data
    data.parent.mkdir(parents=True, exist_ok=True)
    layout.pg_socket_dir.mkdir(parents=True, exist_ok=True)
    log = layout.log(NAME)
    log.touch()
    _own(data.parent, layout.pg_socket_dir, log)
    if not (data / "PG_VERSION").exists():
        if data.exists():  # a half-finished initdb: start again
            shutil.rmtree(data)
        say("initializing postgres data directory...")
        run_checked(NAME, [*_as_pg(), *render.initdb_args(str(bins / "initdb"), data)],
                    cwd=data.parent, log=log)
    (data / "nmc.conf").write_text(render.render_postgres_conf(settings, layout.pg_socket_dir))
    conf = data / "postgresql.conf"
    conf.write_text(render.with_pg_include(conf.read_text()))
    _own(data / "nmc.conf", conf)


def ensure(settings: StackSettings, layout: Layout, say: Say) -> None:
    """Initialise once, start unless running, then make sure roles and databases exist."""
    bins = bin_dir()
    _prepare(settings, layout, bins, say)
    log = layout.log(NAME)
    if running_pid(layout) is None:
        require_free(NAME, [settings.nmc_postgres_port])
        say(f"starting postgres on 127.0.0.1:{settings.nmc_postgres_port}...")
        started = time.monotonic()
        timeout = int(settings.nmc_start_timeout_s)
        cmd = [*_as_pg(), str(bins / "pg_ctl"), "-D", str(layout.pg_data), "-l", str(log),
               "-w", "-t", str(timeout), "start"]
        # pg_ctl forks the postmaster; a new session keeps it alive after the CLI exits.
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                              start_new_session=True, cwd=layout.pg_data)
        if proc.returncode != 0:
            raise StackError(NAME, f"pg_ctl start failed: {last_line(log)}", log)
        say(f"postgres healthy in {time.monotonic() - started:.1f} s")
    else:
        say("postgres already running")
    _ensure_databases(settings, layout)


def _ensure_databases(settings: StackSettings, layout: Layout) -> None:
    """Role `nmc` (LOGIN CREATEDB) and databases `nmc` and `apicurio` owned by it, idempotently."""
    role, db = render.APP_ROLE, render.APP_DB
    try:
        with psycopg.connect(host=str(layout.pg_socket_dir), port=settings.nmc_postgres_port,
                             user="postgres", dbname="postgres", autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                conn.execute(sql.SQL("ALTER ROLE {} LOGIN CREATEDB").format(sql.Identifier(role)))
            else:
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                        sql.Identifier(role), sql.Literal(render.APP_PASSWORD)
                    )
                )
            _ensure_process_roles(conn)
            for name in (db, render.REGISTRY_DB):
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
                ).fetchone()
                if not exists:
                    conn.execute(
                        sql.SQL("CREATE DATABASE {} OWNER {}").format(
                            sql.Identifier(name), sql.Identifier(role)
                        )
                    )
    except psycopg.Error as exc:
        raise StackError(NAME, f"creating role/databases failed: {exc}", layout.log(NAME)) from exc


def _ensure_process_roles(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """The process roles (`nmc.infra.db_roles`): LOGIN, nothing else; their grants come with
    every migration (`nmc.infra.db.upgrade`, run as the owner). Local-only passwords: each
    role's own name (`render.process_role_url`)."""
    for role in process_roles():
        ident = sql.Identifier(role.name)
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role.name,)).fetchone():
            conn.execute(sql.SQL("ALTER ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
                         .format(ident))
        else:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                ident, sql.Literal(role.name)))


def stop(layout: Layout, say: Say) -> None:
    """`pg_ctl stop -m fast` on our data directory, if its server runs."""
    if running_pid(layout) is None:
        return
    say("stopping postgres...")
    run_checked(NAME, [*_as_pg(), str(bin_dir() / "pg_ctl"), "-D", str(layout.pg_data),
                       "-m", "fast", "-w", "stop"], cwd=layout.pg_data, log=layout.log(NAME))
