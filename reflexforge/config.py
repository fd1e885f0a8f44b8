"""The forge's fixed constants (policy grid, windows) and its options (spec/forge.md)."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

from reflexforge.errors import E_USAGE, ForgeError

GRID_N: tuple[int, ...] = (1, 4, 8, 16, 32, 64)
"""Oracle flush thresholds, packets."""
GRID_D_US: tuple[int, ...] = (50, 200, 1000, 4000)
"""Oracle maximum batch delays, microseconds."""
PAIRS: tuple[tuple[int, int], ...] = tuple((n, d) for n in GRID_N for d in GRID_D_US)
"""The 24 (flush_threshold, max_batch_delay_us) pairs; index order is the tie-break order."""

SYNTH_PROFILES: tuple[str, ...] = ("mixed", "diurnal", "poisson", "onoff", "flows", "ramp",
                                   "incast")
"""The load profiles of ``reflex-forge synth`` (spec/telemetry.md section 4)."""

SECOND_NS = 1_000_000_000
"""One second in the nanoseconds of ts_ns."""
WINDOW_NS = 200_000_000
"""Feature and oracle window length: 200 ms."""
STEP_NS = 100_000_000
"""Distance between window starts (and the runtime's decision period): 100 ms."""
LEAD_STEPS = WINDOW_NS // STEP_NS
"""Steps the runtime runs the incumbent before its first decision takes effect: the first
full window ends at step 2 (spec/validation.md section 8)."""

# Limits that keep every integer of the simulator inside int64 (spec/forge.md, "Limits").
MAX_THRESHOLD = 16_384
"""Largest flush threshold N accepted anywhere (incumbent, schedules)."""
MAX_DELAY_US = 10_000_000
"""Largest maximum batch delay D accepted anywhere: 10 s."""
MIN_LINK_BPS = 10**6
MAX_LINK_BPS = 10**15
MAX_FLUSH_COST_NS = 10**9
MAX_LAMBDA = 1e6
"""Largest --lambda: keeps J = p95_us + lambda * overhead_us far from overflow."""
GATE_STATIC_POINTS = 1.0
"""The gate's check against the best static pair (``shadow --gate-static``, on by default): in
each loop the reflex's gap closed may be at most this many points below that of the best
static pair in hindsight on the shadow trace (the issue's "within 1 point of the best static
pair"). ``--gate-static off`` gives the issue's gate (spec/validation.md section 6)."""
MAX_WORKERS = 256
"""Largest --workers accepted."""


@dataclass(frozen=True)
class ForgeOptions:
    """Options shared by labelling, training, build and shadow replays."""

    lam: float = 0.1
    incumbent: tuple[int, int] = (16, 1000)  # (N packets, D microseconds)
    flush_cost_ns: int = 5000
    link_bps: int = 10**10
    workers: int | None = None
    dask: str | None = None

    def __post_init__(self) -> None:
        check_options(self)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_options(opts: ForgeOptions) -> None:
    """Raise ForgeError(E_USAGE) unless every option is inside the limits of spec/forge.md."""
    lam = opts.lam
    if isinstance(lam, bool) or not isinstance(lam, int | float) or not math.isfinite(lam) \
            or not 0 <= lam <= MAX_LAMBDA:
        raise ForgeError(E_USAGE, f"lambda must be a finite number in 0..{MAX_LAMBDA:g}, "
                         f"got {lam!r}")
    inc = opts.incumbent
    if not (isinstance(inc, tuple) and len(inc) == 2 and all(_is_int(v) for v in inc)):
        raise ForgeError(E_USAGE, f"incumbent must be a pair of integers (N, D_us), got {inc!r}")
    check_policy(inc[0], inc[1])
    if not _is_int(opts.flush_cost_ns) or not 0 <= opts.flush_cost_ns <= MAX_FLUSH_COST_NS:
        raise ForgeError(
            E_USAGE, f"flush_cost_ns must be an integer in 0..{MAX_FLUSH_COST_NS}, "
            f"got {opts.flush_cost_ns!r}")
    if not _is_int(opts.link_bps) or not MIN_LINK_BPS <= opts.link_bps <= MAX_LINK_BPS:
        raise ForgeError(
            E_USAGE, f"link_bps must be an integer in {MIN_LINK_BPS}..{MAX_LINK_BPS}, "
            f"got {opts.link_bps!r}")
    if opts.workers is not None and (
            not _is_int(opts.workers) or not 1 <= opts.workers <= MAX_WORKERS):
        raise ForgeError(E_USAGE, f"workers must be an integer in 1..{MAX_WORKERS}, "
                         f"got {opts.workers!r}")
    if opts.dask is not None and (not isinstance(opts.dask, str) or not opts.dask.strip()):
        raise ForgeError(E_USAGE, f"dask must be a scheduler address, got {opts.dask!r}")


def check_policy(n: int, d_us: int) -> None:
    """Raise ForgeError(E_USAGE) unless 1 <= N <= MAX_THRESHOLD and 1 <= D <= MAX_DELAY_US."""
    if not 1 <= n <= MAX_THRESHOLD:
        raise ForgeError(E_USAGE, f"flush threshold N must be in 1..{MAX_THRESHOLD}, got {n}")
    if not 1 <= d_us <= MAX_DELAY_US:
        raise ForgeError(E_USAGE, f"batch delay D must be in 1..{MAX_DELAY_US} us, got {d_us}")


_DELAY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*(us|µs|μs|ms)?$")


def parse_delay_us(text: str) -> int:
    """``"1ms"`` -> 1000, ``"250us"``/``"250µs"``/``"250"`` -> 250; must be a whole number of us."""
    match = _DELAY.match(text.strip())
    if not match:
        raise ForgeError(E_USAGE, f"bad delay {text!r}: expected a number with us, µs or ms")
    number, unit = match.groups()
    whole, _, frac = number.partition(".")
    scale = 1000 if unit == "ms" else 1
    frac_digits = len(frac)
    value = int(whole + frac) * scale  # exact: number * 10**frac_digits * scale
    if value % 10**frac_digits:
        raise ForgeError(E_USAGE, f"bad delay {text!r}: not a whole number of microseconds")
    return value // 10**frac_digits


def parse_incumbent(text: str, what: str = "incumbent") -> tuple[int, int]:
    """``"16,1ms"`` -> (16, 1000): N packets, D in microseconds (``us``, ``µs``, ``ms``, bare).
    ``what`` names the value in the error."""
    parts = text.split(",")
    if len(parts) != 2 or not re.fullmatch(r"\s*[0-9]+\s*", parts[0]):
        raise ForgeError(E_USAGE, f"bad {what} {text!r}: expected N,D such as 16,1ms")
    n = int(parts[0])
    d_us = parse_delay_us(parts[1])
    check_policy(n, d_us)
    return n, d_us


MAX_EPOCH = 253402300799
"""Largest SOURCE_DATE_EPOCH: 9999-12-31T23:59:59Z."""


def source_date_epoch() -> int | None:
    """SOURCE_DATE_EPOCH as seconds (None when unset or empty); E_USAGE unless 0..MAX_EPOCH."""
    text = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not text:
        return None
    seconds = int(text, 10) if re.fullmatch(r"[0-9]{1,20}", text) else -1
    if not 0 <= seconds <= MAX_EPOCH:
        raise ForgeError(E_USAGE, f"SOURCE_DATE_EPOCH must be an integer number of seconds "
                         f"in 0..{MAX_EPOCH}, got {text!r}")
    return seconds
