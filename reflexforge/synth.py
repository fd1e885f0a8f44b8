"""Synthetic Telemetry v1 traces with realistic load profiles (spec/telemetry.md section 4).

Everything is vectorized numpy and deterministic per seed: a trace is planned as a list of
segments (profile, span, mean rate, parameters) from one generator, then generated piece by
piece (at most ``PIECE_NS`` long, each with its own generator seeded from (seed, piece)) and
streamed to the CSV, so memory stays bounded by one piece whatever the duration.
"""

from __future__ import annotations

import gzip
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from reflexfmt.atomic import atomic_open
from reflexforge.config import SECOND_NS, SYNTH_PROFILES, WINDOW_NS
from reflexforge.errors import E_TRACE_SHORT, E_USAGE, ForgeError

PROFILES = SYNTH_PROFILES
BASE_PROFILES = ("poisson", "onoff", "flows", "ramp", "incast")
DEFAULT_RATE = 15_000.0
MAX_ROWS = 2_000_000_000

PIECE_NS = 10 * SECOND_NS
BIN_NS = 1_000_000  # rate functions are sampled per 1 ms bin
MTU = 1500
MSS = 1460
HEADER_BYTES = MTU - MSS
RTT_FRACTION = 0.02
SATURATION_PPS = 150_000.0  # 1-packet batches saturate near here with the default simulator
HEADER = b"ts_ns,bytes,rtt_ns\n"

# Flow-size CDFs in 1460-byte segments, as used by the pFabric simulations: web search
# (DCTCP, Alizadeh et al. 2010) and data mining (VL2, Greenberg et al. 2009). Linear in size
# between the points.
WEB_SEARCH_CDF = (
    (6, 0.0), (6, 0.15), (13, 0.2), (19, 0.3), (33, 0.4), (53, 0.53), (133, 0.6),
    (667, 0.7), (1333, 0.8), (3333, 0.9), (6667, 0.97), (20000, 1.0),
)  # fmt: skip
DATA_MINING_CDF = (
    (1, 0.0), (1, 0.5), (2, 0.6), (3, 0.7), (7, 0.8), (267, 0.9), (2107, 0.95),
    (66667, 0.99), (666667, 1.0),
)  # fmt: skip


@dataclass(frozen=True)
class LoadSegment:
    """One stretch of the trace under one profile at one mean packet rate."""

    profile: str
    start_ns: int
    end_ns: int
    rate: float
    params: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class SynthStats:
    """What ``synthesize`` wrote."""

    rows: int
    rtt_samples: int
    duration_ns: int
    segments: int


def _cdf_mean_segments(cdf: tuple[tuple[int, float], ...]) -> float:
    sizes = np.array([s for s, _ in cdf], dtype=float)
    probs = np.array([p for _, p in cdf])
    return float(np.sum(np.diff(probs) * (sizes[1:] + sizes[:-1]) / 2))


def _sample_cdf(rng: np.random.Generator, cdf: tuple[tuple[int, float], ...], n: int) -> np.ndarray:
    """Flow sizes in bytes (>= 1), drawn by inverse transform of a piecewise-linear CDF."""
    sizes = np.array([s for s, _ in cdf], dtype=float) * MSS
    probs = np.array([p for _, p in cdf])
    u = rng.random(n)
    keep = np.concatenate(([True], np.diff(probs) > 0))  # drop zero-width steps for interp
    return np.maximum(1, np.interp(u, probs[keep], sizes[keep])).astype(np.int64)


FLOW_WORKLOADS = {"web_search": WEB_SEARCH_CDF, "data_mining": DATA_MINING_CDF}
FLOW_MEAN_BYTES = {k: _cdf_mean_segments(v) * MSS for k, v in FLOW_WORKLOADS.items()}


MIN_DURATION_S = 0.2
"""Shortest trace synth writes: one 200 ms feature window."""


def check_args(profile: str, duration_s: float, rate: float) -> None:
    """Raise ForgeError(E_USAGE) unless the profile, duration and rate are usable."""
    if profile not in PROFILES:
        raise ForgeError(
            E_USAGE, f"unknown profile {profile!r} (choose from {', '.join(PROFILES)})"
        )
    if not math.isfinite(duration_s) or duration_s < MIN_DURATION_S:
        raise ForgeError(E_USAGE, f"duration must be a number of seconds >= {MIN_DURATION_S:g} "
                         f"(one feature window), got {duration_s}")
    if not math.isfinite(rate) or rate <= 0:
        raise ForgeError(E_USAGE, f"rate must be packets per second > 0, got {rate}")
    if duration_s * rate > MAX_ROWS:
        raise ForgeError(
            E_USAGE, f"duration x rate = {duration_s * rate:.3g} rows, more than {MAX_ROWS}"
        )


# --- planning ------------------------------------------------------------------------------


def plan(profile: str, duration_ns: int, rate: float,
         rng: np.random.Generator) -> list[LoadSegment]:
    """The segments of a trace: one segment per base profile, many for ``mixed``."""
    if profile == "diurnal":
        return _diurnal_plan(duration_ns, rate, rng)
    if profile != "mixed":
        return [_make_segment(profile, 0, duration_ns, rate, rng)]
    segments = []
    start = 0
    mean_m = (8.0 - 0.02) / math.log(8.0 / 0.02)  # mean of log-uniform on [0.02, 8]
    while start < duration_ns:
        length = int(np.clip(rng.lognormal(math.log(8.0), 0.8), 2.0, 40.0) * SECOND_NS)
        end = min(duration_ns, start + length)
        kind = BASE_PROFILES[int(rng.integers(len(BASE_PROFILES)))]
        m = math.exp(rng.uniform(math.log(0.02), math.log(8.0))) / mean_m
        segments.append(_make_segment(kind, start, end, rate * m, rng))
        start = end
    return segments


REGIMES: dict[str, tuple[tuple[str, ...], float, float]] = {
    "quiet": (("poisson",), 0.03, 0.15),
    "busy": (("poisson", "flows"), 2.0, 4.0),
    "bursty": (("onoff", "incast"), 0.5, 1.5),
}
"""diurnal regimes: the base profiles they draw from and their rate multiplier range."""
REGIME_SECONDS = (60.0, 240.0)


def _diurnal_plan(duration_ns: int, rate: float, rng: np.random.Generator) -> list[LoadSegment]:
    """Long regimes (1-4 minutes each) of quiet, busy and bursty load, like a day compressed:
    each regime differs from the one before it; its rate multiplier is uniform in the
    regime's range (log-uniform for quiet) over the mean multiplier of the three."""
    names = tuple(REGIMES)
    mean_m = (math.exp((math.log(0.03) + math.log(0.15)) / 2) + 3.0 + 1.0) / 3.0
    segments = []
    start = 0
    previous = -1
    while start < duration_ns:
        choices = [i for i in range(len(names)) if i != previous]
        previous = choices[int(rng.integers(len(choices)))]
        kinds, lo, hi = REGIMES[names[previous]]
        length = int(rng.uniform(*REGIME_SECONDS) * SECOND_NS)
        end = min(duration_ns, start + length)
        kind = kinds[int(rng.integers(len(kinds)))]
        m = math.exp(rng.uniform(math.log(lo), math.log(hi))) if previous == 0 \
            else float(rng.uniform(lo, hi))
        segments.append(_make_segment(kind, start, end, rate * m / mean_m, rng))
        start = end
    return segments


def _make_segment(
    kind: str, start: int, end: int, rate: float, rng: np.random.Generator
) -> LoadSegment:
    params: dict = {
        "p_small": float(rng.uniform(0.3, 0.5)),
        "base_rtt_us": float(rng.uniform(20.0, 80.0)),
    }
    if kind == "onoff":
        params["knots"] = _onoff_knots(start, end, rate, rng)
    elif kind == "ramp":
        params["knots"] = _ramp_knots(start, end, rate, rng)
    elif kind == "incast":
        period = float(rng.uniform(0.02, 0.2))
        params.update(
            period_ns=int(period * SECOND_NS),
            phase_ns=int(rng.uniform(0, period) * SECOND_NS),
            senders=int(rng.integers(8, 65)),
            background=0.2,
        )
    elif kind == "flows":
        params["workload"] = ("web_search", "data_mining")[int(rng.integers(2))]
        params["ack_fraction"] = float(rng.uniform(0.1, 0.3))
    return LoadSegment(kind, start, end, rate, params)


def _normalize(times: np.ndarray, rates: np.ndarray, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Scale a piecewise-linear rate curve so that its time average is ``rate``."""
    area = np.trapezoid(rates, times) if times[-1] > times[0] else 0.0
    mean = area / (times[-1] - times[0]) if area > 0 else 1.0
    return times, rates * (rate / mean)


def _onoff_knots(start: int, end: int, rate: float, rng: np.random.Generator):
    """MMPP on/off: Pareto(1.5) sojourns of 0.1-5 s; on levels log-normal, off at 5 %."""
    times, rates = [], []
    t = float(start)
    on = bool(rng.integers(2))
    while t < end:
        stay = min(5.0, 0.1 * (1.0 + rng.pareto(1.5))) * SECOND_NS
        level = rng.lognormal(0.0, 0.5) if on else 0.05
        t_end = min(float(end), t + stay)
        times += [t, max(t, t_end - 1)]
        rates += [level, level]
        t, on = t_end, not on
    return _normalize(np.array(times), np.array(rates), rate)


def _ramp_knots(start: int, end: int, rate: float, rng: np.random.Generator):
    """Steps and linear ramps between log-uniform levels (0.05x-3x), each 1-10 s long."""
    times, rates = [float(start)], [math.exp(rng.uniform(math.log(0.05), math.log(3.0)))]
    t = float(start)
    while t < end:
        length = rng.uniform(1.0, 10.0) * SECOND_NS
        level = math.exp(rng.uniform(math.log(0.05), math.log(3.0)))
        t_end = min(float(end), t + length)
        if rng.random() < 0.5:  # step: jump now, hold
            times += [t + 1, t_end]
            rates += [level, level]
        else:  # ramp: move linearly to the new level
            times.append(t_end)
            rates.append(level)
        t = t_end
    return _normalize(np.array(times), np.array(rates), rate)


# --- generation ----------------------------------------------------------------------------


def _poisson_times(
    rng: np.random.Generator, t0: int, t1: int, rate_of: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Inhomogeneous Poisson arrivals in [t0, t1), the rate constant within each 1 ms bin."""
    starts = np.arange(t0, t1, BIN_NS, dtype=np.int64)
    widths = np.minimum(starts + BIN_NS, t1) - starts
    rates = np.maximum(rate_of(starts + widths / 2), 0.0)
    counts = rng.poisson(rates * widths / SECOND_NS)
    ts = np.repeat(starts, counts) + (rng.random(int(counts.sum())) * np.repeat(widths, counts))
    return np.sort(ts.astype(np.int64))


def _mixed_sizes(rng: np.random.Generator, n: int, p_small: float) -> np.ndarray:
    """Bimodal packet sizes: p_small of 64-100 B, 85 % of the rest 1500 B, the rest 101-1499."""
    u = rng.random(n)
    size = np.full(n, MTU, dtype=np.int64)
    small = u < p_small
    size[small] = rng.integers(64, 101, int(small.sum()))
    mid = u >= p_small + (1 - p_small) * 0.85
    size[mid] = rng.integers(101, MTU, int(mid.sum()))
    return size


def _gen_rate_profile(seg: LoadSegment, rng, t0, t1) -> tuple[np.ndarray, np.ndarray]:
    if seg.profile == "poisson":
        ts = _poisson_times(rng, t0, t1, lambda t: np.full(t.shape, seg.rate))
    else:
        times, rates = seg.params["knots"]
        ts = _poisson_times(rng, t0, t1, lambda t: np.interp(t, times, rates))
    return ts, _mixed_sizes(rng, ts.size, seg.params["p_small"])


def _gen_incast(seg: LoadSegment, rng, t0, t1) -> tuple[np.ndarray, np.ndarray]:
    """Background Poisson plus, every period, K synchronized senders' blocks at line rate."""
    p = seg.params
    bg = _poisson_times(rng, t0, t1, lambda t: np.full(t.shape, seg.rate * p["background"]))
    period, phase, senders = p["period_ns"], p["phase_ns"], p["senders"]
    first = seg.start_ns + phase
    k0 = max(0, -(-(t0 - first) // period))
    bursts = np.arange(first + k0 * period, t1, period, dtype=np.int64)
    per_burst = max(1, round(seg.rate * (1 - p["background"]) * period / SECOND_NS))
    block = max(1, round(per_burst / senders))
    n_burst = senders * block
    span = n_burst * 1200 + 20_000  # 1.2 us per 1500 B packet at 10 Gb/s, plus 20 us of skew
    offs = rng.random((bursts.size, n_burst)) * span
    bt = (bursts[:, None] + offs.astype(np.int64)).ravel()
    bt = bt[bt < t1]
    ts = np.concatenate((bg, bt))
    size = np.concatenate(
        (_mixed_sizes(rng, bg.size, p["p_small"]), _mixed_sizes(rng, bt.size, 0.05))
    )
    order = np.argsort(ts, kind="stable")
    return ts[order], size[order]


def _gen_flows(seg: LoadSegment, rng, t0, t1) -> tuple[np.ndarray, np.ndarray]:
    """Poisson flow arrivals, sizes from the workload CDF, packetized at the MTU and paced."""
    p = seg.params
    workload = p["workload"]
    ack = p["ack_fraction"]
    mean_pkts = FLOW_MEAN_BYTES[workload] / MSS + 1
    flow_rate = seg.rate * (1 - ack) / mean_pkts
    n_flows = int(rng.poisson(flow_rate * (t1 - t0) / SECOND_NS))
    starts = np.sort(rng.integers(t0, t1, n_flows)) if n_flows else np.zeros(0, np.int64)
    nbytes = _sample_cdf(rng, FLOW_WORKLOADS[workload], n_flows)
    npkts = -(-nbytes // MSS)
    gbps = np.exp(rng.uniform(math.log(1.0), math.log(10.0), n_flows))
    gap = MTU * 8 / gbps  # ns per packet at the flow's pace
    total = int(npkts.sum())
    first = np.cumsum(npkts) - npkts
    k = np.arange(total) - np.repeat(first, npkts)
    jitter = rng.uniform(0.8, 1.2, total)
    ts = (np.repeat(starts, npkts) + k * np.repeat(gap, npkts) * jitter).astype(np.int64)
    size = np.full(total, MTU, dtype=np.int64)
    last = first + npkts - 1
    size[last] = nbytes - (npkts - 1) * MSS + HEADER_BYTES
    acks = _poisson_times(rng, t0, t1, lambda t: np.full(t.shape, seg.rate * ack))
    ts = np.concatenate((ts, acks))
    size = np.concatenate((size, rng.integers(64, 101, acks.size)))
    keep = ts < t1
    ts, size = ts[keep], size[keep]
    order = np.argsort(ts, kind="stable")
    return ts[order], size[order]


GENERATORS = {
    "poisson": _gen_rate_profile,
    "onoff": _gen_rate_profile,
    "ramp": _gen_rate_profile,
    "incast": _gen_incast,
    "flows": _gen_flows,
}


def _rtt(rng: np.random.Generator, ts: np.ndarray, t0: int, base_us: float) -> np.ndarray:
    """RTT samples (ns) on ~2 % of rows, -1 elsewhere; queueing grows with the local load."""
    n = ts.size
    rtt = np.full(n, -1, dtype=np.int64)
    pick = np.flatnonzero(rng.random(n) < RTT_FRACTION)
    if pick.size == 0:
        return rtt
    bins = (ts - t0) // 10_000_000
    counts = np.bincount(bins)
    load = np.minimum(counts[bins[pick]] * 100.0 / SATURATION_PPS, 0.95)
    queue_us = base_us * load / (1 - load) * rng.lognormal(0.0, 0.4, pick.size)
    value_us = base_us * rng.uniform(0.9, 1.1, pick.size) + np.minimum(queue_us, 5000.0)
    rtt[pick] = (value_us * 1000).astype(np.int64)
    return rtt


def generate(profile: str, duration_s: float, seed: int, rate: float | None = None):
    """Yield (ts_ns, bytes, rtt_ns) int64 arrays, piece by piece, in time order."""
    rate = DEFAULT_RATE if rate is None else float(rate)
    check_args(profile, duration_s, rate)
    duration_ns = int(round(duration_s * SECOND_NS))
    segments = plan(profile, duration_ns, rate, np.random.default_rng([seed, 0]))
    piece = 0
    for seg in segments:
        for t0 in range(seg.start_ns, seg.end_ns, PIECE_NS):
            t1 = min(seg.end_ns, t0 + PIECE_NS)
            piece += 1
            rng = np.random.default_rng([seed, 1, piece])
            ts, size = GENERATORS[seg.profile](seg, rng, t0, t1)
            yield ts, size, _rtt(rng, ts, t0, seg.params["base_rtt_us"])


def pieces(profile: str, duration_s: float, seed: int, rate: float | None = None) -> int:
    """How many pieces ``generate`` yields (for a progress bar)."""
    rate = DEFAULT_RATE if rate is None else float(rate)
    check_args(profile, duration_s, rate)
    duration_ns = int(round(duration_s * SECOND_NS))
    segments = plan(profile, duration_ns, rate, np.random.default_rng([seed, 0]))
    return sum(-(-(s.end_ns - s.start_ns) // PIECE_NS) for s in segments)


def synthesize(
    path: str | os.PathLike[str],
    profile: str = "mixed",
    duration_s: float = 600.0,
    seed: int = 0,
    rate: float | None = None,
    progress=None,
) -> SynthStats:
    """Write a synthetic trace to ``path`` atomically (gzip if the name ends in ``.gz``)."""
    schema = pa.schema([("ts_ns", pa.int64()), ("bytes", pa.int64()), ("rtt_ns", pa.int64())])
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    rows = rtts = 0
    first = last = 0
    with atomic_open(path, "wb") as raw:
        sink = (
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0)
            if os.fspath(path).lower().endswith(".gz")
            else raw
        )
        sink.write(HEADER)
        writer = pacsv.CSVWriter(sink, schema, write_options=options)
        for ts, size, rtt in generate(profile, duration_s, seed, rate):
            has = rtt >= 0
            table = pa.table(
                [pa.array(ts), pa.array(size), pa.array(rtt, mask=~has)], schema=schema
            )
            writer.write_table(table)
            if ts.size:
                first = first if rows else int(ts[0])
                last = int(ts[-1])
            rows += ts.size
            rtts += int(has.sum())
            if progress is not None:
                progress.advance(1)
        writer.close()
        if sink is not raw:
            sink.close()
        if rows == 0:  # raised inside atomic_open: nothing is left at path
            raise ForgeError(E_USAGE, f"no packet in {duration_s:g} s at this rate: raise "
                             "--rate or --duration", path=path)
        if last - first < WINDOW_NS:  # no command reads it (E_TRACE_SHORT): nothing is left
            raise ForgeError(E_TRACE_SHORT, f"the packets span {(last - first) / 1e6:.6g} ms, "
                             f"less than one {WINDOW_NS // 10**6} ms window: no command could "
                             "read the trace; raise --duration", path=path)
    duration_ns = int(round(duration_s * SECOND_NS))
    segments = plan(
        profile,
        duration_ns,
        DEFAULT_RATE if rate is None else float(rate),
        np.random.default_rng([seed, 0]),
    )
    return SynthStats(rows=rows, rtt_samples=rtts, duration_ns=duration_ns, segments=len(segments))
