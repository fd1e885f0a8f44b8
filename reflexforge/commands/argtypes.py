"""argparse types of the forge commands: numbers in ranges, durations, the incumbent pair."""

from __future__ import annotations

import argparse
import math

from reflexforge.errors import ForgeError


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    value = _float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def points_or_off(text: str) -> float | None:
    """argparse type: ``off`` (None) or a finite number >= 0."""
    return None if text == "off" else non_negative_float(text)


def lambda_value(text: str) -> float:
    """argparse type: --lambda, a finite number in 0..MAX_LAMBDA."""
    from reflexforge.config import MAX_LAMBDA

    value = _float(text)
    if not 0 <= value <= MAX_LAMBDA:
        raise argparse.ArgumentTypeError(
            f"must be a finite number in 0..{MAX_LAMBDA:g}, got {text!r}")
    return value


def int_range(lo: int, hi: int):
    """argparse type factory: an integer in lo..hi."""
    def parse(text: str) -> int:
        value = _int(text)
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be an integer in {lo}..{hi}, got {text!r}")
        return value

    return parse


def link_bps_value(text: str) -> int:
    """argparse type: --link-bps, an integer in MIN_LINK_BPS..MAX_LINK_BPS."""
    from reflexforge.config import MAX_LINK_BPS, MIN_LINK_BPS

    return int_range(MIN_LINK_BPS, MAX_LINK_BPS)(text)


def workers_value(text: str) -> int:
    """argparse type: --workers, an integer in 1..MAX_WORKERS."""
    from reflexforge.config import MAX_WORKERS

    return int_range(1, MAX_WORKERS)(text)


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def incumbent(text: str, what: str = "incumbent") -> tuple[int, int]:
    """argparse type: ``N,D`` such as ``16,1ms`` -> (N packets, D microseconds)."""
    from reflexforge.config import parse_incumbent

    try:
        return parse_incumbent(text, what)
    except (ValueError, ForgeError) as exc:
        raise argparse.ArgumentTypeError(
            exc.message if isinstance(exc, ForgeError) else str(exc)
        ) from None


def pair(text: str) -> tuple[int, int]:
    """argparse type: a policy pair ``N,D`` such as ``32,50us``."""
    return incumbent(text, "pair")


def _int(text: str) -> int:
    try:
        return int(text.strip(), 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    return value


def duration_ns(text: str) -> int:
    """argparse type: a duration such as ``10ms``, ``500us``, ``2s`` or ``7300000`` (ns)."""
    units = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
    stripped = text.strip()
    for suffix in ("ns", "us", "µs", "ms", "s"):
        if stripped.endswith(suffix):
            number, scale = stripped[: -len(suffix)], units[suffix]
            break
    else:
        number, scale = stripped, 1
    value = _float(number)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a duration >= 0, got {text!r}")
    return int(round(value * scale))
