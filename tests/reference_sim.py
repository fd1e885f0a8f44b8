"""An independent, plain-Python reference of spec/forge.md sections 2 to 5.

Written from the spec text alone, for clarity rather than speed: one packet at a time, Python
integers, ``sorted()`` for percentiles, nothing shared with ``reflexforge``. The tests compare
the compiled implementation against it on small random traces.
"""

from __future__ import annotations

WINDOW_NS = 200_000_000
STEP_NS = 100_000_000
GRID = [(n, d_us) for n in (1, 4, 8, 16, 32, 64) for d_us in (50, 200, 1000, 4000)]


def ceil_div(a: int, b: int) -> int:
    """ceil(a / b) for a >= 0, b > 0, in integers."""
    return -(-a // b)


def nearest_rank_value(values: list[int], percent: int) -> int:
    """The value of 1-based rank ceil(percent * n / 100) among the sorted values."""
    ordered = sorted(values)
    return ordered[ceil_div(percent * len(ordered), 100) - 1]


class Batcher:
    """The batcher and its FIFO transmitter, fed one arrival at a time (spec section 3)."""

    def __init__(self, size: list[int], flush_cost_ns: int, link_bps: int) -> None:
        self.size = size
        self.flush_cost_ns = flush_cost_ns
        self.link_bps = link_bps
        self.free: int | None = None  # None: the transmitter has never been busy
        self.batch: list[int] = []
        self.limit = 0
        self.deadline = 0
        self.flushes = 0
        self.completion: dict[int, int] = {}

    def flush(self, at: int) -> None:
        start = at if self.free is None else max(at, self.free)
        batch_bytes = sum(self.size[x] for x in self.batch)
        done = start + self.flush_cost_ns + ceil_div(8 * batch_bytes * 10**9, self.link_bps)
        for x in self.batch:
            self.completion[x] = done
        self.free = done
        self.flushes += 1
        self.batch = []

    def arrive(self, x: int, t: int, policy: tuple[int, int]) -> None:
        """Packet x arrives at t; ``policy`` (N, D ns) applies if it opens a batch."""
        if self.batch and t > self.deadline:  # the open batch timed out before t
            self.flush(self.deadline)
        if not self.batch:
            self.limit, delay = policy
            self.deadline = t + delay
        self.batch.append(x)  # t <= deadline: it joins (an arrival at the deadline joins)
        if len(self.batch) == self.limit:
            self.flush(t)

    def finish(self) -> None:
        if self.batch:
            self.flush(self.deadline)


def simulate_schedule(ts: list[int], size: list[int], t0: int, step_ns: int,
                      schedule: list[tuple[int, int]], flush_cost_ns: int,
                      link_bps: int) -> tuple[list[int], int]:
    """Completions and flushes; a batch takes the (N, D ns) of the step its first packet is in,
    clamped to the first and last entries."""
    batcher = Batcher(size, flush_cost_ns, link_bps)
    for x, t in enumerate(ts):
        k = min(max((t - t0) // step_ns, 0), len(schedule) - 1)
        batcher.arrive(x, t, schedule[k])
    batcher.finish()
    return [batcher.completion[x] for x in range(len(ts))], batcher.flushes


def simulate(ts: list[int], size: list[int], n: int, d_ns: int, flush_cost_ns: int,
             link_bps: int) -> tuple[list[int], int]:
    """Completions and flushes under the constant policy (n, d_ns)."""
    return simulate_schedule(ts, size, 0, 1, [(n, d_ns)], flush_cost_ns, link_bps)


def window_starts(ts: list[int]) -> list[int]:
    """Section 2: s = t0 + k * 100 ms for k = 0 .. floor((tl - t0 - 200 ms) / 100 ms), skipping
    windows without an arrival."""
    if not ts or ts[-1] - ts[0] < WINDOW_NS:
        return []
    starts = []
    for k in range((ts[-1] - ts[0] - WINDOW_NS) // STEP_NS + 1):
        s = ts[0] + k * STEP_NS
        if any(s <= t < s + WINDOW_NS for t in ts):
            starts.append(s)
    return starts


def window_features(ts: list[int], size: list[int], rtt: list[int], completion: list[int],
                    s: int) -> list[float]:
    """Section 4: the ten features of window [s, s + 200 ms) from a whole-trace replay."""
    e = s + WINDOW_NS
    arrivals = [x for x in range(len(ts)) if s <= ts[x] < e]
    completed = [x for x in range(len(ts)) if s <= completion[x] < e]
    n_a, n_c = len(arrivals), len(completed)
    b_a = sum(size[x] for x in arrivals)
    b_c = sum(size[x] for x in completed)
    q_a = sum(size[x] ** 2 for x in arrivals)
    in_system = sum(max(0, min(completion[x], e) - max(ts[x], s)) for x in range(len(ts)))
    latencies = [completion[x] - ts[x] for x in completed]
    p50 = float(nearest_rank_value(latencies, 50)) / 1000.0 if latencies else 0.0
    p95 = float(nearest_rank_value(latencies, 95)) / 1000.0 if latencies else 0.0
    ewma = None
    for x in range(len(ts)):
        if ts[x] < e and rtt[x] >= 0:
            ewma = float(rtt[x]) if ewma is None else ewma + (float(rtt[x]) - ewma) * 0.125
    return [
        float(in_system) / 200000000.0,
        float(n_a) * 5.0,
        float(n_c) * 5.0,
        p50,
        p95,
        float(b_a) * 5.0,
        float(b_c) * 5.0,
        float(b_a) / float(n_a),
        (n_a * q_a - b_a * b_a) / (n_a * n_a),  # exact integers, one correctly rounded division
        0.0 if ewma is None else ewma / 1000.0,
    ]


def window_cost(ts: list[int], size: list[int], s: int, schedule: list[tuple[int, int]],
                t0: int, lam: float, flush_cost_ns: int,
                link_bps: int) -> tuple[float, float, int]:
    """Section 5 for one window and a per-step schedule of (N, D ns): the window's packets
    alone from an empty system; returns (J, p95 in us, flushes)."""
    inside = [x for x in range(len(ts)) if s <= ts[x] < s + WINDOW_NS]
    w_ts = [ts[x] for x in inside]
    completion, flushes = simulate_schedule(w_ts, [size[x] for x in inside], t0, STEP_NS,
                                            schedule, flush_cost_ns, link_bps)
    latencies = [completion[x] - w_ts[x] for x in range(len(w_ts))]
    p95_us = float(nearest_rank_value(latencies, 95)) / 1000.0
    overhead_us = float(flushes * flush_cost_ns) / 1000.0
    return p95_us + lam * overhead_us, p95_us, flushes


def oracle(ts: list[int], size: list[int], lam: float, flush_cost_ns: int,
           link_bps: int) -> list[tuple[int, list[tuple[float, float, int]], int]]:
    """For every window: (start, [(J, p95 us, flushes) per grid pair], index of the label)."""
    rows = []
    for s in window_starts(ts):
        costs = [window_cost(ts, size, s, [(n, d_us * 1000)], 0, lam, flush_cost_ns, link_bps)
                 for n, d_us in GRID]
        best = 0
        for p in range(1, len(GRID)):
            if costs[p][0] < costs[best][0]:  # strictly smaller: ties keep the lower index
                best = p
        rows.append((s, costs, best))
    return rows


def random_trace(rng, packets: int = 300, min_span_ns: int = 0):
    """A small random trace (ts, bytes, rtt lists) rich in edge cases: timestamps on a coarse
    grid (so arrivals fall exactly on deadlines and window edges), simultaneous bursts, a
    large or zero t0, tiny and jumbo packets, sparse RTT samples."""
    quantum = rng.choice([1, 1000, 50_000, 1_000_000, 25_000_000])
    span = max(min_span_ns, rng.choice([2_000_000, 300_000_000, 1_000_000_000]))
    t0 = rng.choice([0, 12_345, 10**15])
    ts = [t0, t0 + span][:packets]  # the trace spans ``span`` exactly
    while len(ts) < packets:
        t = t0 + rng.randrange(span // quantum + 1) * quantum
        ts.extend([t] * (rng.choice([1, 1, 1, 2, 4, 16]) if rng.random() < 0.3 else 1))
    ts = sorted(ts[:packets])
    size = [rng.choice([1, 64, 1500, 65535, rng.randint(1, 65535)]) for _ in ts]
    rtt = [rng.randint(1, 10**6) if rng.random() < 0.2 else -1 for _ in ts]
    return ts, size, rtt, quantum


def random_policy(rng, quantum: int) -> tuple[int, int]:
    """(N, D ns): small and grid thresholds, delays on the trace's grid (ties) or the oracle's."""
    n = rng.choice([1, 1, 2, 3, 4, 8, 16, 64, 16384])
    d_ns = rng.choice([quantum * rng.randint(0, 4), 1000 * rng.choice([50, 200, 1000, 4000]),
                       rng.randint(1, 5_000_000)])
    return n, d_ns


def random_link(rng) -> tuple[int, int]:
    """(flush_cost_ns, link_bps): from an idle link to a heavily backlogged one."""
    return (rng.choice([0, 1000, 5000, 10**6]),
            rng.choice([8 * 10**9, 10**10, 10**6, 3 * 10**7 + 7, 10**15]))
