"""The one compiled pass over a trace's rows (reflexforge/ingest/scan.py) against plain
Python written from spec/telemetry.md 7 and 8, on random traces in and out of order."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from reflexforge.config import STEP_NS, WINDOW_NS
from reflexforge.ingest.options import CLAMP, ERROR, SPLIT
from reflexforge.ingest.scan import LINK_WAIT_NS, PLACES, Scanner, scan


def _pieces(b: int, oversize: str, mtu: int) -> list[int]:
    """The rows --oversize makes of a record of b bytes (spec/telemetry.md 6.2)."""
    if oversize == ERROR or b <= mtu:
        return [b]
    if oversize == CLAMP:
        return [mtu]
    whole, rest = divmod(b, mtu)
    return [mtu] * whole + ([rest] if rest else [])


def _reference(ts: list[int], size: list[int], window: int, mtu: int, oversize: str,
               link_bps: int) -> dict:
    out: dict = {}
    top, beyond, within, back_max = ts[0], [], 0, 0
    for i in range(1, len(ts)):
        if ts[i] < top:
            if top - ts[i] > window:
                beyond.append((i, top - ts[i]))
            else:
                within += 1
                back_max = max(back_max, top - ts[i])
        top = max(top, ts[i])
    out["beyond"], out["within"], out["largest_back_ns"] = len(beyond), within, back_max
    rows = [_pieces(b, oversize, mtu) for b in size]
    out["zero_gaps"] = sum(1 for i in range(1, len(ts))
                           if ts[i] == ts[i - 1] and rows[i - 1][-1] != mtu)
    out["largest_gap_ns"] = max([0] + [ts[i] - ts[i - 1] for i in range(1, len(ts))])
    out["t_min"], out["t_max"] = min(ts), max(ts)
    out["windows"] = (max(ts) - min(ts)) // WINDOW_NS + 1
    ks = [(t - ts[0]) // WINDOW_NS for t in ts]
    out["busy_windows"] = 1 + sum(1 for a, b in zip(ks, ks[1:], strict=False) if a != b)
    sizes = sorted(p for r in rows for p in r)
    out["median_size"] = sizes[(len(sizes) - 1) // 2]
    out["total_bytes"] = sum(size)
    out["big"] = sum(1 for b in size if b > mtu)
    out["over"] = sum(1 for b in size if b > 65535)
    # the link: q_k = max(0, q_(k-1) + bits_k - C) per 100 ms step from the first row,
    # draining C per empty step; a step's packets count when q_k > link_bps * 4 ms
    capacity, longer = link_bps * STEP_NS // 10**9, link_bps * LINK_WAIT_NS // 10**9
    steps: list[list[int]] = []  # [step, bits, packets] in row order, a new one on a change
    for t, r in zip(ts, rows, strict=True):
        k = (t - ts[0]) // STEP_NS
        if not steps or steps[-1][0] != k:
            steps.append([k, 0, 0])
        steps[-1][1] += 8 * sum(r)
        steps[-1][2] += len(r)
    q, packets, peak, peak_at = 0, 0, 0, 0
    for j, (k, bits, n) in enumerate(steps):
        if j:
            q = max(0, q - max(0, k - steps[j - 1][0] - 1) * capacity)
        q = max(0, q + bits - capacity)
        if q > longer:
            packets += n
        if q > peak:
            peak, peak_at = q, k
    out["link_packets"] = packets
    out["link_peak_ns"] = peak * 10**9 // link_bps
    out["link_peak_at_ns"] = peak_at * STEP_NS
    out["first_beyond"] = beyond[:PLACES]
    return out


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_the_pass_matches_plain_python(data) -> None:
    n = data.draw(st.integers(1, 60))
    unit = data.draw(st.sampled_from([1, 1000, 7_000_000, 90_000_000]))
    steps = data.draw(st.lists(st.integers(-3, 40), min_size=n, max_size=n))
    ts = list(np.cumsum([s * unit for s in steps]) + 10**12)
    size = data.draw(st.lists(st.integers(1, 70_000), min_size=n, max_size=n))
    mtu = data.draw(st.sampled_from([1500, 9000, 65535]))
    oversize = data.draw(st.sampled_from([ERROR, CLAMP, SPLIT]))
    window = data.draw(st.sampled_from([0, 5 * unit, 1 << 62]))
    link_bps = data.draw(st.sampled_from([10**6, 10**8, 10**10]))
    found = scan(np.array(ts, np.int64), np.array(size, np.int64), window=window, mtu=mtu,
                 oversize=oversize, zero_mtu=mtu, link_bps=link_bps)
    want = _reference([int(t) for t in ts], size, window, mtu, oversize, link_bps)
    got = found._asdict()
    got["first_beyond"] = [(int(i), int(d)) for i, d in found.first_beyond if i >= 0]
    assert {k: got[k] for k in want} == want


def test_an_empty_trace_has_no_figures() -> None:
    found = scan(np.empty(0, np.int64), np.empty(0, np.int64))
    assert found.windows == found.busy_windows == found.total_bytes == 0
    assert found.t_max < found.t_min


def test_years_of_silence_drain_the_link_without_overflow() -> None:
    """A first row at 0, then rows at an epoch time (1.7e18 ns): 1.7e10 empty steps of C bits
    overflowed int64 and left a backlog of 1.4e11 ms (a false W_OVERLOAD)."""
    ts = np.concatenate(([0], 1_700_000_000_000_000_000 + np.arange(2000) * 3_000_000))
    size = np.full(ts.shape[0], 1500, np.int64)
    for link_bps in (10**10, 10**15):
        found = scan(ts.astype(np.int64), size, link_bps=link_bps)
        assert found.link_packets == 0 and found.link_peak_ns == 0, found


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_the_pass_in_pieces_matches_one_pass(data) -> None:
    """A reader feeds its row groups as decoded (``check`` of Parquet): the same figures."""
    n = data.draw(st.integers(0, 40))
    ts = np.array(data.draw(st.lists(st.integers(0, 10**9), min_size=n, max_size=n)), np.int64)
    if data.draw(st.booleans()):
        ts.sort()
    size = np.array(data.draw(st.lists(st.integers(1, 70_000), min_size=n, max_size=n)),
                    np.uint32)
    keywords = {"window": data.draw(st.sampled_from([0, 10**6, 1 << 62])),
                "mtu": data.draw(st.sampled_from([1500, 65535])),
                "oversize": data.draw(st.sampled_from([ERROR, CLAMP, SPLIT])), "zero_mtu": 1500,
                "link_bps": data.draw(st.sampled_from([10**6, 10**10]))}
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=4)))
    scanner = Scanner(**keywords)
    for start, end in zip([0, *cuts], [*cuts, n], strict=True):
        assert scanner.feed(ts[start:end], size[start:end]) == -1
    whole, pieces = scan(ts, size, **keywords), scanner.result()
    for got, want in zip(pieces, whole, strict=True):
        assert np.array_equal(got, want)


def test_the_pass_stops_at_the_first_value_outside_the_bounds() -> None:
    scanner = Scanner()
    ts = np.array([5, 6, 7, 8], np.int64)
    assert scanner.feed(ts[:2], np.array([1, 2], np.uint16), (0, 10, 1, 65535)) == -1
    assert scanner.feed(ts[2:], np.array([2, 0], np.uint16), (0, 10, 1, 65535)) == 1
    assert Scanner().feed(np.array([3, 11]), np.array([1, 1]), (0, 10, 1, 65535)) == 1
