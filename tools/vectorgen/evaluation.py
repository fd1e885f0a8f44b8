"""Evaluation of a document (spec 10, 11): quantization, the trees, the runtime's
confirm/dwell hysteresis, and the inputs and expected outputs listed in a y_*.json.
Spec-only: no reflexfmt import."""

from __future__ import annotations

import copy
import math
import struct
from typing import Any

from .canonical import float_text, to_float
from .documents import LEAF

# ---- Evaluation (spec 10, 11) ----------------------------------------------------------------


def quantize_value(x: float, lo: float, hi: float, q: int) -> int:
    if math.isnan(x) or x <= lo:
        return 0
    if x >= hi:
        return q
    r = ((x - lo) * q) / (hi - lo)
    return q if r >= q else math.floor(r)


def evaluate(doc: dict[str, Any], x: list[float]) -> tuple[list[int], list[int]]:
    q_scale = doc["header"]["q_scale"]
    q = [
        quantize_value(v, to_float(lo), to_float(hi), q_scale)
        for v, (lo, hi) in zip(x, doc["scaling"], strict=True)
    ]
    y = []
    for tree, (bmin, bmax) in zip(doc["trees"], doc["bounds"], strict=True):
        i = 0
        while tree[i][0] != LEAF:
            f, t, left, right, _ = tree[i]
            i = left if q[f] <= t else right
        y.append(min(max(tree[i][4], bmin), bmax))
    return q, y


def run_runtime(doc: dict[str, Any], xs: list[list[float]]) -> list[list[int]]:
    confirm, dwell = doc["header"]["confirm_steps"], doc["header"]["dwell_steps"]
    out: list[list[int]] = []
    active: list[int] | None = None
    held, cand, streak = 0, None, 0
    for x in xs:
        d = evaluate(doc, x)[1]
        if active is None:
            active, held, cand, streak = d, 1, None, 0
        elif d == active:
            cand, streak, held = None, 0, held + 1
        else:
            if d == cand:
                streak += 1
            else:
                cand, streak = d, 1
            if streak >= confirm and held >= dwell:
                active, held, cand, streak = d, 1, None, 0
            else:
                held += 1
        out.append(list(active))
    return out


def _ordered(x: float) -> int:
    bits = struct.unpack("<q", struct.pack("<d", x))[0]
    return bits if bits >= 0 else -(bits & 0x7FFFFFFFFFFFFFFF)


def _from_ordered(k: int) -> float:
    bits = k if k >= 0 else (-k) | (1 << 63)
    return struct.unpack("<d", struct.pack("<Q", bits & 0xFFFFFFFFFFFFFFFF))[0]


def first_at_least(lo: float, hi: float, q: int, k: int) -> float:
    """Smallest raw x with grid value >= k (k in 1..q); quantization is monotonic."""
    a, b = _ordered(lo), _ordered(hi)  # q(lo) = 0 < k <= q = q(hi)
    while b - a > 1:
        mid = (a + b) // 2
        if quantize_value(_from_ordered(mid), lo, hi, q) >= k:
            b = mid
        else:
            a = mid
    return _from_ordered(b)


def raw_for_grid(lo: float, hi: float, q: int, k: int) -> float | None:
    """A raw value whose grid value is exactly k, if one exists."""
    if k <= 0:
        x = lo
    elif lo < hi:
        x = first_at_least(lo, hi, q, k)
    else:
        x = math.nextafter(hi, math.inf)
    return x if quantize_value(x, lo, hi, q) == k else None


def split_inputs(doc: dict[str, Any]) -> list[list[float]]:
    """For each reachable split: raws at grid T (first and last such raw) and at T+1."""
    q_scale = doc["header"]["q_scale"]
    scale = [(to_float(lo), to_float(hi)) for lo, hi in doc["scaling"]]
    inputs = []
    for tree in doc["trees"]:
        bounds = {0: [[0, q_scale] for _ in range(10)]}
        for i, (f, t, left, right, _) in enumerate(tree):
            if f == LEAF or i not in bounds or any(a > b for a, b in bounds[i]):
                continue
            box = bounds[i]
            lbox, rbox = copy.deepcopy(box), copy.deepcopy(box)
            lbox[f][1] = min(lbox[f][1], t)
            rbox[f][0] = max(rbox[f][0], t + 1)
            bounds[left], bounds[right] = lbox, rbox
            base = []
            for g, (a, b) in enumerate(box):
                lo, hi = scale[g]
                picks = [raw_for_grid(lo, hi, q_scale, k) for k in (a, b, (a + b) // 2)]
                picks = [p for p in picks if p is not None]
                base.append(picks[0] if picks else lo)
            lo, hi = scale[f]
            candidates = [raw_for_grid(lo, hi, q_scale, t), raw_for_grid(lo, hi, q_scale, t + 1)]
            if 0 <= t + 1 <= q_scale and lo < hi:
                nxt = first_at_least(lo, hi, q_scale, t + 1)
                candidates.append(math.nextafter(nxt, -math.inf))
            for c in candidates:
                if c is not None:
                    x = list(base)
                    x[f] = c
                    inputs.append(x)
    return inputs


def edge_inputs(doc: dict[str, Any]) -> list[list[float]]:
    """Every feature below lo, at lo, at hi, above hi, mid, NaN, +-inf, huge, tiny."""
    scale = [(to_float(lo), to_float(hi)) for lo, hi in doc["scaling"]]
    inf = math.inf
    rows = [
        [math.nextafter(lo, -inf) for lo, _ in scale],
        [lo for lo, _ in scale],
        [math.nextafter(lo, inf) for lo, _ in scale],
        [lo / 2 + hi / 2 for lo, hi in scale],
        [math.nextafter(hi, -inf) for _, hi in scale],
        [hi for _, hi in scale],
        [math.nextafter(hi, inf) for _, hi in scale],
        [math.nan] * 10,
        [inf] * 10,
        [-inf] * 10,
        [1.7976931348623157e308] * 10,
        [-1.7976931348623157e308] * 10,
        [5e-324] * 10,
        [-0.0] * 10,
        [lo - abs(lo) - 1.0 if i % 2 else hi + abs(hi) + 1.0 for i, (lo, hi) in enumerate(scale)],
    ]
    return rows


def expected_outputs(doc: dict[str, Any]) -> dict[str, Any]:
    """The evaluations and the runtime run listed in a y_*.json."""
    seen: set[tuple[str, ...]] = set()
    xs = []
    for x in edge_inputs(doc) + split_inputs(doc):
        key = tuple(float_text(v) for v in x)
        if key not in seen:
            seen.add(key)
            xs.append(x)
    evaluations = []
    for x in xs:
        q, y = evaluate(doc, x)
        evaluations.append({"x": [float_text(v) for v in x], "q": q, "y": y})
    distinct: dict[tuple[int, ...], list[float]] = {}
    for x in xs:
        distinct.setdefault(tuple(evaluate(doc, x)[1]), x)
    picks = list(distinct.values())[:4]
    pattern = [0, 0, 1, 0, 1, 1, 1, 2, 2, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 0, 0, 0, 0, 0, 0, 0, 2]
    steps = [picks[i % len(picks)] for i in pattern]
    runtime = [
        {"x": [float_text(v) for v in x], "y": y}
        for x, y in zip(steps, run_runtime(doc, steps), strict=True)
    ]
    return {"evaluations": evaluations, "runtime": runtime}
