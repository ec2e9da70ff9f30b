"""Loopback ports for processes a run starts itself (the demo's servers, tests, benches)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it; a race with another process
    binding it before the caller does is possible and accepted on loopback)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
