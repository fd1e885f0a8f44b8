"""Exactly rounded arithmetic in int64, compiled: a ratio of integers rounded once to binary64,
as Python's ``int / int`` does, and the packet size variance of spec/forge.md."""

from __future__ import annotations

import math

from numba import njit


@njit(cache=True)
def _bit_length(x):
    n = 0
    while x > 0:
        x >>= 1
        n += 1
    return n


@njit(cache=True)
def exact_ratio(u, f, den):
    """u + f / den correctly rounded to binary64 (ties to even); 0 <= u < 2**53, 0 <= f < den.

    Long division yields the significand, a guard bit and a sticky bit in exact integers, so
    the result equals Python's exact ``int / int`` (one rounding of the true quotient).
    """
    if u == 0 and f == 0:
        return 0.0
    mant = u
    r = f
    shift = 0
    while _bit_length(mant) < 54:
        r *= 2
        mant *= 2
        if r >= den:
            r -= den
            mant += 1
        shift += 1
    guard = mant & 1
    mant >>= 1
    shift -= 1
    if guard == 1 and (r != 0 or (mant & 1) == 1):
        mant += 1
    return math.ldexp(float(mant), -shift)


@njit(cache=True)
def size_variance(n, total, squares):
    """(n * squares - total**2) / n**2, exactly rounded, without overflowing int64.

    With total = a*n + b, c = squares - a*a*n - 2*a*b = sum((x - a)**2) and c = u*n + w, the
    value is u + (w*n - b*b) / n**2.
    """
    a = total // n
    b = total % n
    c = squares - a * a * n - 2 * a * b
    u = c // n
    w = c % n
    den = n * n
    f = w * n - b * b
    if f < 0:
        u -= 1
        f += den
    return exact_ratio(u, f, den)
