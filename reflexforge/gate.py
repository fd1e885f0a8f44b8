"""The promotion gate (spec/validation.md sections 4, 6 and 7): its limits, its checks and
the figures they compare (∆p95 in integers, gap closed, points against the best static
pair). ``reflexforge.shadow`` measures what the gate judges."""

from __future__ import annotations

from dataclasses import dataclass

PROMOTION_MIN_DURATION_S = 600
"""The seed's 10 minutes: a trace that does not cover them (to within
DURATION_TOLERANCE_PERCENT) can be shadowed (with --min-duration) but never promoted."""
DURATION_TOLERANCE_PERCENT = 1
"""A trace covers D seconds (the 600 s a promotion needs, and ``--min-duration``) when its
duration is at least D less this share of D: a recording of 10 minutes holds packets from a
little after its start to a little before its end, so its duration, first to last packet
in 100 ms steps, falls short of 600 s by the gaps before its first and after its last packet
(spec/validation.md section 6)."""
SILENCE_S = 10
"""A gap between two consecutive arrivals longer than this is silence, which does not count
toward the PROMOTION_MIN_DURATION_S of traffic a promotion needs: 65 s of traffic and one
packet 10 minutes later covered 600 s and were promoted. No loopback capture or synthetic
profile measured here has a gap above 4 s."""
DELTA_P95_MAX_PERCENT = -10
"""Gate: ∆p95 <= -10%."""
OSCILLATIONS_MAX_PER_30S = 1
"""Gate: at most one oscillation in any 30 s (300 steps)."""


def covers(duration_ns: int, seconds: float) -> bool:
    """Whether ``duration_ns`` of traffic covers ``seconds``, to within
    DURATION_TOLERANCE_PERCENT of it (exact for whole ``seconds``: binary64 holds their
    nanoseconds times 99 exactly up to 25 hours, and Python compares an int with a float
    exactly)."""
    return duration_ns * 100 >= seconds * 1e9 * (100 - DURATION_TOLERANCE_PERCENT)


def covered_s(seconds: float) -> float:
    """The least duration, in seconds, that covers ``seconds`` (for messages)."""
    return seconds * (100 - DURATION_TOLERANCE_PERCENT) / 100


def delta_p95_passes(p95_reflex_ns: int, p95_incumbent_ns: int,
                     limit_percent: int = DELTA_P95_MAX_PERCENT) -> bool:
    """p95_reflex / p95_incumbent - 1 <= limit, decided exactly in integers (no float rounding)."""
    if p95_incumbent_ns <= 0:
        return False
    return p95_reflex_ns * 100 <= p95_incumbent_ns * (100 + limit_percent)


def gap_closed(j_incumbent: float, j_oracle: float, j: float) -> float | None:
    """(J_incumbent - J) / (J_incumbent - J_oracle); None when the oracle gains nothing."""
    room = j_incumbent - j_oracle
    if not room > 0:
        return None
    return (j_incumbent - j) / room


def vs_best_static(j_incumbent: float, j_oracle: float, j: float,
                   j_static: float) -> float | None:
    """``gap_closed`` of ``j`` minus that of the best static pair's ``j_static`` (a fraction:
    0.012 is 1.2 points above it); None when either is undefined."""
    mine = gap_closed(j_incumbent, j_oracle, j)
    static = gap_closed(j_incumbent, j_oracle, j_static)
    return None if mine is None or static is None else mine - static


@dataclass(frozen=True)
class GateVerdict:
    """The gate's decision: every check, the verdict without and with the duration rule."""

    checks: dict[str, bool]
    reasons: list[str]
    gate_passed: bool
    promoted: bool


def gate(p95_incumbent_ns: int, p95_open_ns: int, p95_closed_ns: int, oscillations_max: int,
         promotable: bool, duration_s: float = float(PROMOTION_MIN_DURATION_S),
         mean_j: tuple[float, float, float] | None = None,
         lookback_steps: int | None = None,
         vs_static: tuple[float | None, float | None] | None = None,
         static_points: float | None = None,
         static_pair: tuple[int, int] | None = None,
         silent_s: float = 0.0, static_p95_ns: int | None = None) -> GateVerdict:
    """Apply the promotion gate; ``reasons`` explains each failed check, empty when promoted.

    ``mean_j`` = (incumbent, open loop, closed loop) mean J turns on the J checks (each
    loop's mean J must not exceed the incumbent's); None leaves the guide's gate alone.
    ``static_points`` (``--gate-static``; None: off) adds a check per loop: its gap closed
    (``vs_static``: open, closed, minus the best static pair's, a fraction) must not be more
    than ``static_points`` points below the best static pair's (passes when undefined);
    ``static_pair``, that pair, is named in the reason, with the command that writes it
    unless its whole-trace p95 (``static_p95_ns``) fails the ∆p95 test. ``duration_s`` (the
    trace's) less ``silent_s`` (its silences) is the traffic a reason for not ``promotable``
    names.
    """
    reasons = []
    checks = {
        "delta_p95_open_loop": delta_p95_passes(p95_open_ns, p95_incumbent_ns),
        "delta_p95_closed_loop": delta_p95_passes(p95_closed_ns, p95_incumbent_ns),
        "oscillations": oscillations_max <= OSCILLATIONS_MAX_PER_30S,
        "duration": promotable,
    }
    if mean_j is not None:
        checks["mean_J_open_loop"] = mean_j[1] <= mean_j[0]
        checks["mean_J_closed_loop"] = mean_j[2] <= mean_j[0]
    if static_points is not None:
        for loop, vs in zip(("open", "closed"), vs_static or (None, None), strict=True):
            checks[f"vs_best_static_{loop}_loop"] = vs is None or vs * 100 >= -static_points
    for loop, p95 in (("open", p95_open_ns), ("closed", p95_closed_ns)):
        if not checks[f"delta_p95_{loop}_loop"]:
            reasons.append(f"{loop}-loop ∆p95 {_delta_text(p95, p95_incumbent_ns)} is above "
                           f"{DELTA_P95_MAX_PERCENT}%")
    if mean_j is not None:
        for loop, value in (("open", mean_j[1]), ("closed", mean_j[2])):
            if not checks[f"mean_J_{loop}_loop"]:
                reasons.append(f"{loop}-loop mean J {value:.1f} µs is above the incumbent's "
                               f"{mean_j[0]:.1f} µs")
    if static_points is not None:
        for loop, vs in zip(("open", "closed"), vs_static or (None, None), strict=True):
            if not checks[f"vs_best_static_{loop}_loop"]:
                pair, fallback = "", ""
                if static_pair is not None:
                    pair = f" ({static_pair[0]}, {static_pair[1]} µs)"
                    if static_p95_ns is None or delta_p95_passes(static_p95_ns,
                                                                 p95_incumbent_ns):
                        fallback = (f"; `reflex-forge static {static_pair[0]},{static_pair[1]}"
                                    "us -o fallback.reflex` writes that pair as a reflex")
                    else:  # recommending it would send the user to a file the gate refuses
                        fallback = (f"; that pair is no fallback: its own ∆p95 "
                                    f"{_delta_text(static_p95_ns, p95_incumbent_ns)} is above "
                                    f"{DELTA_P95_MAX_PERCENT}%")
                reasons.append(f"{loop}-loop gap closed is {-100 * vs:.1f} points below that of "
                               f"the best static pair{pair} (at most {static_points:g} "
                               f"allowed{fallback})")
    if not checks["oscillations"]:
        at = "" if lookback_steps is None else f" (lookback {lookback_steps} steps)"
        reasons.append(f"{oscillations_max} oscillations in a 30 s window{at} "
                       f"(at most {OSCILLATIONS_MAX_PER_30S} allowed)")
    if not promotable:
        traffic = (f"{duration_s - silent_s:.1f} s of traffic ({duration_s:.1f} s less "
                  f"{silent_s:.1f} s of silences over {SILENCE_S} s)" if silent_s
                  else f"{duration_s:.1f} s")
        reasons.append(f"the trace covers {traffic}, less than {PROMOTION_MIN_DURATION_S} s "
                       f"(at least {covered_s(PROMOTION_MIN_DURATION_S):g} s with the "
                       f"{DURATION_TOLERANCE_PERCENT} % tolerance): not promotable")
    gate_passed = all(v for k, v in checks.items() if k != "duration")
    return GateVerdict(checks=checks, reasons=reasons, gate_passed=gate_passed,
                       promoted=gate_passed and promotable)


def delta_ratio(value: int, incumbent: int) -> float | None:
    """Relative change of ``value`` against the incumbent's (None when that is 0)."""
    return None if incumbent <= 0 else value / incumbent - 1.0


def _delta_text(value: int, incumbent: int) -> str:
    """``delta_ratio`` as a reason shows it: ``+12.34%``, or ``undefined``."""
    delta = delta_ratio(value, incumbent)
    return "undefined" if delta is None else f"{delta:+.2%}"
