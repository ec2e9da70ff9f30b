"""Refusals of a command or webhook: each names the field and the reason and carries the HTTP
status the edges answer with (the domain packages raise them, the edges turn them into bodies)."""

from __future__ import annotations

from typing import Any

from nmc.contract.errors import FieldError


class Refused(Exception):
    """A refused request: nothing was written (the transaction rolls back)."""

    def __init__(self, status: int, reason: str, field: str | None = None,
                 extra: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.headers = headers
        self.errors = [FieldError(field or "request", reason)]
        self.extra = extra or {}
        super().__init__(f"{status}: {field or 'request'}: {reason}")

    @classmethod
    def fields(cls, status: int, errors: list[FieldError]) -> Refused:
        err = cls(status, "invalid")
        err.errors = errors
        return err

    def body(self) -> dict[str, Any]:
        return {"errors": [{"field": e.field, "reason": e.reason} for e in self.errors],
                **self.extra}


class Replayed(Exception):
    """The provider retried something already recorded: roll back, answer success."""

    def __init__(self, result: Any) -> None:
        self.result = result
        super().__init__("replayed")
