"""Spec 6.1 item 6: the metadata keys every file must have, and the values they must hold."""

from __future__ import annotations

import math
import re

from reflexfmt.limits import FEATURE_SCHEMA

_DATETIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z\Z")
_SHA1 = re.compile(r"[0-9a-f]{40}\Z")


def required_key_problems(metadata: dict[str, object]) -> list[tuple[str, str]]:
    """Every broken rule of the required-keys table, as (key, message), in table order."""
    problems: list[tuple[str, str]] = []
    for key, check in _REQUIRED:
        if key not in metadata:
            problems.append((key, f"required key {key!r} is missing"))
            continue
        message = check(metadata[key])
        if message:
            problems.append((key, f"{key}: {message}"))
    return problems


def required_keys_hold(metadata: dict[str, object]) -> bool:
    """True iff ``required_key_problems(metadata)`` is empty (without building messages)."""
    for key, check in _REQUIRED:
        if key not in metadata or check(metadata[key]) is not None:
            return False
    return True


def _check_created_at(v: object) -> str | None:
    m = _DATETIME.match(v) if isinstance(v, str) else None
    if m is None:
        return "must be a string YYYY-MM-DDTHH:MM:SSZ"
    year, month, day, hour, minute, second = m.groups()
    y = int(year)
    if not 1970 <= y <= 9999:
        return "year must be 1970..9999"
    # Two digits each (the pattern matched), so comparing the strings compares the numbers.
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    if not (
        "01" <= month <= "12"
        and "01" <= day <= ("29" if leap and month == "02" else _LAST_DAY[month])
        and hour <= "23"
        and minute <= "59"
        and second <= "59"
    ):
        return "not a valid UTC date and time"
    return None


_LAST_DAY = {  # month -> last day in a common year
    "01": "31", "02": "28", "03": "31", "04": "30", "05": "31", "06": "30",
    "07": "31", "08": "31", "09": "30", "10": "31", "11": "30", "12": "31",
}  # fmt: skip


def _check_hash(v: object) -> str | None:
    ok = isinstance(v, str) and _SHA1.match(v)
    return None if ok else "must be 40 lowercase hex characters"


def _check_commit(v: object) -> str | None:
    ok = isinstance(v, str) and 1 <= len(v) <= 200
    return None if ok else "must be a string of 1..200 characters"


def _check_lambda(v: object) -> str | None:
    ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
    return None if ok else "must be a finite number >= 0"


def _check_schema(v: object) -> str | None:
    return None if v == FEATURE_SCHEMA and isinstance(v, str) else f"must be {FEATURE_SCHEMA!r}"


_REQUIRED = (
    ("created_at", _check_created_at),
    ("telemetry_hash", _check_hash),
    ("trainer_commit", _check_commit),
    ("lambda", _check_lambda),
    ("feature_schema", _check_schema),
)
