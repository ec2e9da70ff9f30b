"""What PostgreSQL and Python can hold, checked before any transaction starts.

A value outside these bounds is a 400 naming the field and the reason — also when it comes
from a provider with a valid signature (a signature proves who sent it, not that it fits):

* text: no NUL character (PostgreSQL `text` cannot store it) and no lone surrogate (it cannot
  be encoded as UTF-8, neither for the database nor for a JSON answer);
* integers: within the column's type (`catalog_items.price_cents` is an `integer`);
* Unix timestamps: within `UNIX_MIN`..`UNIX_MAX` (years 2000..2100), far inside what
  `datetime` and `timestamptz` hold, so a `created` of 10**12 or 2**63 never reaches
  `datetime.fromtimestamp`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from nmc.contract.errors import FieldError

INTEGER_MAX = 2**31 - 1  # PostgreSQL `integer` (catalog_items.price_cents, ...)
UNIX_MIN = 946_684_800  # 2000-01-01T00:00:00Z
UNIX_MAX = 4_102_444_800  # 2100-01-01T00:00:00Z


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text, or None."""
    if "\x00" in value:
        return "must not contain the NUL character (\\u0000)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode (no lone surrogate code points)"
    return None


def _storable(value: str) -> str:
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


# Pydantic types of the command bodies.
StoredText = Annotated[str, AfterValidator(_storable)]
Cents = Annotated[int, Field(ge=0, le=INTEGER_MAX)]


def check_texts(values: Mapping[str, str] | Iterable[tuple[str, str]]) -> list[FieldError]:
    """One FieldError per (name, value) that cannot be stored; a bad name is named as-is
    only when the name itself is storable."""
    items = values.items() if isinstance(values, Mapping) else values
    errors: list[FieldError] = []
    for name, value in items:
        name_problem = text_problem(name)
        if name_problem is not None:
            errors.append(FieldError("body", f"a parameter name {name_problem}"))
            continue
        problem = text_problem(value)
        if problem is not None:
            errors.append(FieldError(name, problem))
    return errors


def unix_time(value: Any, field: str, errors: list[FieldError]) -> datetime | None:
    """A UTC datetime from an integer Unix timestamp within the sane window, else None with a
    FieldError appended (missing, not an integer, or out of range)."""
    if value is None:
        errors.append(FieldError(field, "required unix timestamp is missing"))
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        errors.append(FieldError(field, "must be an integer unix timestamp"))
        return None
    if not UNIX_MIN <= value <= UNIX_MAX:
        errors.append(FieldError(
            field, f"unix timestamp out of range (must be {UNIX_MIN}..{UNIX_MAX}, "
            "years 2000..2100)"))
        return None
    return datetime.fromtimestamp(value, UTC)


DATETIME_MIN = datetime.fromtimestamp(UNIX_MIN, UTC)
DATETIME_MAX = datetime.fromtimestamp(UNIX_MAX, UTC)


def _in_window(value: datetime) -> datetime:
    # A naive value is compared as if UTC (the command then refuses it for its missing zone);
    # an aware one inside the window can no longer overflow when converted to UTC.
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not DATETIME_MIN <= aware <= DATETIME_MAX:
        raise ValueError("must be between 2000-01-01T00:00:00Z and 2100-01-01T00:00:00Z")
    return value


WindowedDatetime = Annotated[datetime, AfterValidator(_in_window)]
