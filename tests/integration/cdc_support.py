"""Fixtures of the Debezium path: one Connect worker per session, one connector per test
database (its own slot and publication), dropped with its slot at teardown."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from rich.console import Console
from sqlalchemy.engine import make_url
from support.settings import PlatformSettings as Settings

from nmc.stack import connect
from nmc.stack.layout import Layout
from nmc.stack.settings import get_versions


@dataclass(frozen=True)
class CdcConnector:
    name: str
    slot: str
    config: dict[str, str]


def ensure_worker(settings: Settings) -> connect.ConnectSettings:
    """The running worker, or a new one; one that `nmc connect up` started with the platform's
    connector gets it back after a restart (its properties file stays until `down`)."""
    cs = connect.get_connect_settings()
    say = Console(stderr=True).print
    layout = Layout.of(settings)
    with_connector = connect.ConnectLayout.of(layout).connector_properties.exists()
    connect.start(settings, cs, get_versions(), layout, say, with_connector=with_connector)
    if with_connector:
        connect.ensure_running(cs, cs.connector)
    return cs


@contextlib.contextmanager
def cdc_connector(settings: Settings, cs: connect.ConnectSettings) -> Iterator[CdcConnector]:
    """Debezium + contract SMT on the test's database, `initial` snapshot (nothing is missed
    between slot creation and the first insert)."""
    layout = Layout.of(settings)
    dbname = make_url(settings.database).database
    assert dbname is not None
    slot = f"cdc_{dbname[-12:]}"
    connect.provision_database(settings, cs, layout, dbname, slot)
    config = connect.connector_config(settings, cs, connect.ConnectLayout.of(layout),
                                      dbname=dbname, slot=slot, publication=slot,
                                      snapshot_mode="initial")
    name = f"test-{dbname}"
    connect.put_connector(cs, name, config)
    connect.wait_running(cs, name)
    try:
        yield CdcConnector(name, slot, config)
    finally:
        connect.delete_connector(cs, name)
        connect.drop_slot(settings, cs, slot, timeout_s=60)


@pytest.fixture(scope="session")
def connect_worker(stack: Settings) -> Iterator[connect.ConnectSettings]:
    """The session's worker; stopped at the end if this session started it (one that
    `nmc connect up` started before is left running)."""
    layout = Layout.of(stack)
    started_here = connect.running(layout) is None
    yield ensure_worker(stack)
    if started_here:
        connect.stop(layout, Console(stderr=True).print)
