"""Human wording for NEM1 values: split thresholds in raw units."""

from __future__ import annotations

import math
import struct

from reflexfmt.model import quantize_value


def _key(x: float) -> int:
    """An integer that orders binary64 values like the values themselves (-0.0 == 0.0)."""
    bits = struct.unpack("<q", struct.pack("<d", x))[0]
    return bits if bits >= 0 else -(bits & 0x7FFFFFFFFFFFFFFF)


def _float(key: int) -> float:
    bits = key if key >= 0 else (-key) | -0x8000000000000000
    return struct.unpack("<d", struct.pack("<q", bits))[0]


def split_boundary(lo: float, hi: float, q_scale: int, threshold: int) -> float | None:
    """The largest raw binary64 value x that a split ``q <= threshold`` sends left.

    None when no value goes left (threshold < 0), +inf when every value does (threshold >= Q).
    Found by binary search over binary64 values, using the evaluator of spec 10 itself.
    """
    if threshold < 0:
        return None
    if threshold >= q_scale:
        return math.inf
    low, high = _key(lo), _key(hi)  # quantize(lo) = 0 <= threshold < Q = quantize(hi)
    while high - low > 1:
        mid = (low + high) // 2
        if quantize_value(_float(mid), lo, hi, q_scale) <= threshold:
            low = mid
        else:
            high = mid
    return _float(low)


def format_split(name: str, unit: str, lo: float, hi: float, q_scale: int, threshold: int) -> str:
    """``name <= X unit (q <= T)`` where X is the exact largest raw value that goes left."""
    boundary = split_boundary(lo, hi, q_scale, threshold)
    if boundary is None:
        return f"{name}: q <= {threshold} (never true: q >= 0)"
    if boundary == math.inf:
        return f"{name}: q <= {threshold} (always true: q <= {q_scale})"
    return f"{name} <= {float.__repr__(boundary)} {unit}  (q <= {threshold})"
