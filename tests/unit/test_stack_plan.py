"""Pure decisions of the local stack: what is local, pid files, Java choice, masking."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.settings import PlatformSettings as Settings

from nmc.stack import javas, pidfile
from nmc.stack.errors import StackError
from nmc.stack.layout import Layout
from nmc.stack.model import address_of, local_services, mask_password, registry_uses_sql
from nmc.stack.postgres import pick_bin_dir


def _settings(**kw: object) -> Settings:
    return Settings(nmc_home=Path("/srv/nmc"), **kw)  # type: ignore[arg-type]


def test_everything_local_by_default() -> None:
    settings = _settings()
    assert local_services(settings) == {"postgres": True, "kafka": True, "registry": True}
    assert registry_uses_sql(settings)


def test_external_services_are_not_started() -> None:
    settings = _settings(kafka_bootstrap_servers="k:9092", database_url="postgresql://u:p@db/x")
    assert local_services(settings) == {"postgres": False, "kafka": False, "registry": True}
    assert not registry_uses_sql(settings)  # local registry, external DB: in-memory storage
    assert address_of(settings, "postgres") == "postgresql://u:***@db/x"


def test_mask_password() -> None:
    assert mask_password("postgresql+psycopg://nmc:nmc@127.0.0.1:5432/nmc") == (
        "postgresql+psycopg://nmc:***@127.0.0.1:5432/nmc"
    )
    assert mask_password("postgresql://u@h/d") == "postgresql://u@h/d"


def test_layout_puts_everything_under_home() -> None:
    layout = Layout.of(_settings())
    for path in (layout.cache, layout.logs, layout.run, layout.pg_data, layout.kafka_data,
                 layout.pidfile("kafka"), layout.log("registry")):
        assert path.is_relative_to(Path("/srv/nmc"))
    assert layout.log("kafka") != layout.out("kafka")  # log4j2 file vs process stdout
    assert layout.log("registry") == layout.out("registry")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("123 456\n", pidfile.PidRecord(123, 456)),
        ("123", pidfile.PidRecord(123, None)),
        ("", None),
        ("abc 1", None),
        ("0 5", None),
    ],
)
def test_parse_pidfile(text: str, expected: pidfile.PidRecord | None) -> None:
    assert pidfile.parse_pidfile(text) == expected


def test_pidfile_round_trip() -> None:
    record = pidfile.PidRecord(42, 99)
    assert pidfile.parse_pidfile(pidfile.render_pidfile(record)) == record


def test_parse_postmaster_pid() -> None:
    assert pidfile.parse_postmaster_pid("4204\n/srv/nmc/postgres/data\n1700000000\n5432\n") == 4204
    assert pidfile.parse_postmaster_pid("") is None


def test_parse_proc_stat_handles_spaces_in_comm() -> None:
    fields = " ".join(["S"] + [str(i) for i in range(1, 25)])
    state, ticks = pidfile.parse_proc_stat(f"77 (java (x) y) {fields}") or ("", 0)
    assert state == "S" and ticks == 19
    assert pidfile.parse_proc_stat("garbage") is None


def test_pick_postgres_bin_dir_prefers_newest() -> None:
    dirs = [Path("/usr/lib/postgresql/13/bin"), Path("/usr/lib/postgresql/15/bin")]
    assert pick_bin_dir(dirs) == Path("/usr/lib/postgresql/15/bin")
    assert pick_bin_dir([]) is None


def test_java_release_and_class_versions() -> None:
    assert javas.parse_release('IMPLEMENTOR="x"\nJAVA_VERSION="17.0.15"\n') == 17
    assert javas.parse_release('JAVA_VERSION="1.8.0_402"') == 8
    assert javas.parse_release("") is None
    assert javas.class_file_java(b"\xca\xfe\xba\xbe\x00\x00\x00\x41") == 21
    assert javas.class_file_java(b"nope") is None


def test_pick_java_takes_first_new_enough() -> None:
    found = [(Path("/j17/bin/java"), 17), (Path("/j25/bin/java"), 25)]
    assert javas.pick(found, 17) == Path("/j17/bin/java")
    assert javas.pick(found, 21) == Path("/j25/bin/java")
    assert javas.pick(found, 26) is None


def test_stack_error_is_one_line() -> None:
    err = StackError("kafka", "exited early\n(exit code 1):  boom", Path("/l/kafka.log"))
    assert str(err) == "kafka: exited early (exit code 1): boom (log: /l/kafka.log)"
    assert "\n" not in str(err)


def test_traversable_follows_the_class_of_the_user() -> None:
    from nmc.stack.layout import traversable

    pg, pg_group = 105, 110
    open_dir = (0o40755, 0, 0)
    private_root = (0o40700, 0, 0)  # root's home, a `mktemp -d` folder
    assert traversable([open_dir, open_dir], pg, {pg_group})
    assert not traversable([open_dir, private_root, open_dir], pg, {pg_group})
    assert traversable([(0o40700, pg, 0)], pg, {pg_group})  # its own private dir
    assert traversable([(0o40710, 0, pg_group)], pg, {pg_group})  # group search bit
    assert not traversable([(0o40701, 0, pg_group)], pg, {pg_group})  # others' bit not its
    assert traversable([private_root], 0, {0})  # root passes everything


def test_layout_keeps_postgres_files_together_when_relocated() -> None:
    layout = Layout(Path("/root/private/checkout/.nmc"), pg_home=Path("/var/lib/postgresql/nmc/ab"))
    assert layout.pg_data == Path("/var/lib/postgresql/nmc/ab/data")
    assert layout.pg_socket_dir == Path("/var/lib/postgresql/nmc/ab/run")
    assert layout.log("postgres") == Path("/var/lib/postgresql/nmc/ab/postgres.log")
    assert layout.log("kafka") == Path("/root/private/checkout/.nmc/logs/kafka.log")


def test_a_failed_command_is_reported_by_its_last_line_with_text() -> None:
    from nmc.stack.procs import last_meaningful

    assert last_meaningful("[ERROR] no such artifact\n\x1b[0m\x1b[0m\n") == (
        "[ERROR] no such artifact")
    assert last_meaningful("\x1b[0m\x1b[0m") == "(no output)"
