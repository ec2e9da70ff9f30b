"""The registry of stream apps, derived from each app's own definition (`<app>/app.py`).

Importing it also puts every app's read-model tables into `read_model.metadata`.
"""

from __future__ import annotations

from nmc_streams.conversation.app import APP as CONVERSATION
from nmc_streams.reporting.app import APP as REPORTING
from nmc_streams.scheduling.app import APP as SCHEDULING
from nmc_streams.stream_app import StreamApp

APPS: dict[str, StreamApp] = {app.name: app for app in (CONVERSATION, SCHEDULING, REPORTING)}
"""Every stream app by name, in the order `nmc worker --help` lists them."""


class UnknownApp(KeyError):
    """No stream app has that name."""


def app_named(name: str) -> StreamApp:
    """The app called `name`; `UnknownApp` naming the known ones otherwise."""
    try:
        return APPS[name]
    except KeyError:
        raise UnknownApp(f"unknown app {name!r}: one of {', '.join(sorted(APPS))}") from None
