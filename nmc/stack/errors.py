"""The one exception the stack raises, so the CLI can print it as a single line and exit 1."""

from __future__ import annotations


class StackError(RuntimeError):
    """A service could not be provisioned, started or reached.

    The message is one line naming the service, the reason and (when there is one) the log to
    read, because it is shown as-is to a developer at a terminal.
    """

    def __init__(self, service: str, reason: str, log: object | None = None) -> None:
        text = f"{service}: {' '.join(reason.split())}"
        if log is not None:
            text += f" (log: {log})"
        super().__init__(text)
        self.service = service
