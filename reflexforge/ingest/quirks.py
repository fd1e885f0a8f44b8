"""Capture quirks and their options: spec/telemetry.md 6.

- Timestamps that step back (multi-CPU capture): rows are put back in time order when no
  step back exceeds ``--reorder-window``; a larger one is E_CSV_ORDER naming the option.
- Packets above ``--mtu`` bytes (TSO/GSO segments, large datagrams): ``--oversize split``
  (default for captures), ``clamp`` or ``error``.
IngestOptions and the option constants live in ``reflexforge.ingest.options`` (no numba).
Every adjustment is counted in ``Adjustments`` and reported in one line, never silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from reflexforge.errors import E_CSV_ORDER, ForgeError
from reflexforge.ingest.options import CLAMP, DEFAULT_MTU, ERROR, SPLIT


@dataclass
class Adjustments:
    """What reading changed, for the one-line summary (spec 6.4)."""

    reordered_rows: int = 0
    largest_step_back_ns: int = 0
    window_ns: int = 0
    oversize: str = ERROR
    mtu: int = DEFAULT_MTU
    oversize_records: int = 0
    rows_added: int = 0
    bytes_clamped: int = 0
    largest_packet: int = 0
    filtered_out: int = 0
    filter_expr: str | None = None
    untimed_packets: int = 0
    rtt_samples: int | None = None
    caplen_records: int = 0  # capture records captured longer than on the wire (W_CAPLEN)
    caplen_offset: int = -1  # the byte offset of the first
    notes: list[str] = field(default_factory=list)

    def parts(self) -> list[str]:
        out = []
        if self.filter_expr is not None:
            out.append(f"--filter {self.filter_expr!r} left out {self.filtered_out} packets")
        if self.untimed_packets:
            out.append(f"{self.untimed_packets} simple packet blocks (no timestamp) took the "
                       "previous packet's time")
        if self.reordered_rows:
            out.append(f"reordered {self.reordered_rows} rows that stepped back in time "
                       f"(largest step {_ms(self.largest_step_back_ns)}, "
                       f"--reorder-window {_ms(self.window_ns)})")
        if self.oversize_records and self.oversize == SPLIT:
            out.append(f"split {self.oversize_records} packets above --mtu {self.mtu} B into "
                       f"{self.oversize_records + self.rows_added} rows (largest "
                       f"{self.largest_packet} B)")
        if self.oversize_records and self.oversize == CLAMP:
            out.append(f"clamped {self.oversize_records} packets to --mtu {self.mtu} B "
                       f"({self.bytes_clamped} bytes cut; largest {self.largest_packet} B)")
        if self.rtt_samples is not None:
            out.append(f"--rtt tcp: {self.rtt_samples} RTT samples")
        return out

    def summary(self) -> str | None:
        """One line (without the file name), or None if nothing was adjusted."""
        parts = self.parts()
        return "; ".join(parts) if parts else None


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.3f} ms".replace(".000 ms", " ms")


@njit(cache=True, nogil=True)
def _steps_back(ts):
    """(rows behind the running maximum, largest step back, index of the first row whose
    step back is the largest)."""
    behind = 0
    largest = 0
    where = -1
    if ts.shape[0] == 0:
        return 0, 0, -1
    top = ts[0]
    for i in range(1, ts.shape[0]):
        t = ts[i]
        if t < top:
            behind += 1
            if top - t > largest:
                largest = top - t
                where = i
        else:
            top = t
    return behind, largest, where


@njit(cache=True, nogil=True)
def _insertion_sort(ts, size, perm):
    """Stable insertion sort of ts (carrying size and perm); cheap when rows are few and
    close to their place, as after a bounded step back."""
    for i in range(1, ts.shape[0]):
        t = ts[i]
        if t >= ts[i - 1]:
            continue
        s = size[i]
        p = perm[i]
        j = i - 1
        while j >= 0 and ts[j] > t:
            ts[j + 1] = ts[j]
            size[j + 1] = size[j]
            perm[j + 1] = perm[j]
            j -= 1
        ts[j + 1] = t
        size[j + 1] = s
        perm[j + 1] = p


def step_beyond(ts: np.ndarray, top: int | None, window_ns: int) -> tuple[tuple | None, int]:
    """Check a block of timestamps that follows a running maximum ``top`` (None at the
    start): ((index, ts, maximum before it) of the first step back beyond ``window_ns``, or
    None; the new running maximum)."""
    running = np.maximum.accumulate(ts)
    if top is not None:
        np.maximum(running, top, out=running)
    before = np.empty_like(ts)
    before[0] = ts[0] if top is None else top
    before[1:] = running[:-1]
    back = np.flatnonzero(before - ts > window_ns)
    if back.shape[0]:
        i = int(back[0])
        return (i, int(ts[i]), int(before[i])), int(running[-1])
    return None, int(running[-1])


def order_error(name: str, place: str, ts: int, top: int, window_ns: int) -> ForgeError:
    """E_CSV_ORDER for a step back beyond the window, naming --reorder-window."""
    step = top - ts
    hint = (f"it steps back {_ms(step)}, more than --reorder-window {_ms(window_ns)}; "
            f"pass --reorder-window {_ms(-(-step // 1_000_000) * 1_000_000).replace(' ', '')}"
            " or more to put such rows back in order")
    return ForgeError(E_CSV_ORDER, f"{place}: ts_ns decreases: {ts} after {top}; {hint}",
                      path=name)


def reorder(name: str, ts: np.ndarray, size: np.ndarray,
            rtt_samples: tuple[np.ndarray, np.ndarray], window_ns: int,
            place_of_row, adjust: Adjustments) -> tuple[np.ndarray, np.ndarray]:
    """Put rows back in time order in place (ts, size), within ``window_ns``; returns the RTT
    samples with their row indices moved along. E_CSV_ORDER if a row steps back more."""
    adjust.window_ns = window_ns
    behind, largest, where = _steps_back(ts)
    if behind == 0:
        return rtt_samples
    if largest > window_ns:
        beyond, _top = step_beyond(ts, None, window_ns)
        assert beyond is not None
        i, t, top = beyond
        raise order_error(name, place_of_row(i), t, top, window_ns)
    perm = np.arange(ts.shape[0], dtype=np.int64)
    _insertion_sort(ts, size, perm)
    adjust.reordered_rows = behind
    adjust.largest_step_back_ns = int(largest)
    at, values = rtt_samples
    if at.shape[0]:
        new_index = np.empty_like(perm)
        new_index[perm] = np.arange(perm.shape[0], dtype=np.int64)
        moved = new_index[at]
        order = np.argsort(moved, kind="stable")
        return moved[order], values[order]
    return rtt_samples
