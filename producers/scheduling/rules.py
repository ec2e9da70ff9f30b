"""Scheduling rules (pure): what a valid hold is and when it expires."""

from __future__ import annotations

from datetime import datetime, timedelta

from nmc.contract.errors import FieldError


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """Half-open ranges [start, end) overlap — the rule the exclusion constraint enforces
    (back-to-back slots do not conflict)."""
    return a_start < b_end and b_start < a_end


def check_hold(
    start: datetime, end: datetime, ttl_s: int, max_ttl_s: int, now: datetime
) -> list[FieldError]:
    """Every reason a hold request is invalid, at once."""
    errors = []
    if start.tzinfo is None:
        errors.append(FieldError("start", "must carry a time zone (RFC3339)"))
    if end.tzinfo is None:
        errors.append(FieldError("end", "must carry a time zone (RFC3339)"))
    if errors:
        return errors
    if end <= start:
        errors.append(FieldError("end", "must be after start"))
    if end <= now:
        errors.append(FieldError("end", "is in the past"))
    if ttl_s <= 0 or ttl_s > max_ttl_s:
        errors.append(FieldError("ttl_seconds", f"must be within 1..{max_ttl_s}"))
    return errors


def hold_expiry(now: datetime, ttl_s: int) -> datetime:
    return now + timedelta(seconds=ttl_s)
