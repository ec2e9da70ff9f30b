"""Pure checks of query parameters; each failure names the parameter (-> 422)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from nmc_streams.api.errors import ApiError, invalid


def time_range(start: datetime, end: datetime, max_days: int) -> tuple[datetime, datetime]:
    """A half-open [from, to) window: to > from and at most `max_days` long.

    A bound keeps one request from scanning a resource's whole history."""
    if end <= start:
        raise invalid("to", "must be later than 'from'")
    if end - start > timedelta(days=max_days):
        raise invalid("to", f"window longer than {max_days} days")
    return start, end


def date_range(start: date, end: date, max_days: int) -> tuple[date, date]:
    """An inclusive [from, to] range of days, at most `max_days` days."""
    if end < start:
        raise invalid("to", "must not be earlier than 'from'")
    if (end - start).days + 1 > max_days:
        raise invalid("to", f"range longer than {max_days} days")
    return start, end


def page_limit(limit: int | None, default: int, maximum: int) -> int:
    """The page size: `default` when absent, 1..`maximum` otherwise."""
    if limit is None:
        return default
    if limit < 1 or limit > maximum:
        raise invalid("limit", f"must be between 1 and {maximum}")
    return limit


__all__ = ["ApiError", "date_range", "page_limit", "time_range"]
