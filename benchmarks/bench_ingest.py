"""Benchmark the ingest paths on the same packets (issue 9 targets).

Makes a synthetic trace of about 10 M packets (``reflex-forge synth``, poisson), writes the
same packets as a microsecond pcap (snapshot length 128, zero payload bytes), as Telemetry
v1 CSV and as Parquet, then times in a fresh process each:
  CSV read (``read_telemetry``, the reference), pcap read (one row per packet:
  ``--oversize clamp --mtu 65535``), Parquet read, ``check`` of the CSV, of the Parquet and
  of the pcap, and the read every command does (``read_trace``: the same read with the
  plausibility warnings computed) of each; with the peak RSS of each process.
Targets: pcap <= 2x CSV time at no more peak memory; Parquet >= 3x faster than CSV;
check <= the plain read of the same file.
Usage: python benchmarks/bench_ingest.py [--rate 16700] [--duration 600] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

SNAPLEN = 128


def write_pcap(trace, path: str) -> None:
    """The trace's packets as a little-endian microsecond pcap (Ethernet link type)."""
    ts_us = trace.ts_ns // 1000
    with open(path, "wb") as out:
        out.write(np.array([0xA1B2C3D4], "<u4").tobytes())
        out.write(np.array([2, 4], "<u2").tobytes())
        out.write(np.array([0, 0, SNAPLEN, 1], "<u4").tobytes())
        step = 1 << 20
        for start in range(0, trace.rows, step):
            ts = ts_us[start : start + step]
            wire = trace.size[start : start + step].astype(np.uint32)
            cap = np.minimum(wire, SNAPLEN).astype(np.uint32)
            header = np.empty((ts.shape[0], 4), "<u4")
            header[:, 0] = ts // 1_000_000
            header[:, 1] = ts % 1_000_000
            header[:, 2] = cap
            header[:, 3] = wire
            body = np.zeros(int(cap.sum()) + 16 * ts.shape[0], np.uint8)
            starts = np.concatenate(([0], np.cumsum(16 + cap.astype(np.int64))[:-1]))
            view = header.view(np.uint8).reshape(-1, 16)
            index = starts[:, None] + np.arange(16)
            body[index] = view
            out.write(body.tobytes())


def _peak_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss it does not inherit the parent's
    peak across fork + exec)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run(kind: str, path: str) -> int:
    from reflexforge.ingest.check import check_file
    from reflexforge.ingest.options import IngestOptions
    from reflexforge.ingest.read import read_trace, read_with_adjustments
    from reflexforge.telemetry import read_telemetry

    options = IngestOptions(oversize="clamp", mtu=65535)
    if kind == "csv":
        return read_telemetry(path).rows
    if kind.startswith("check"):
        found = check_file(path, options)
        assert found.fatal is None, found.fatal
        return found.rows
    if kind.startswith("command"):
        return read_trace(path, options, report=lambda line: None).rows
    return read_with_adjustments(path, options)[0].rows


def _child(kind: str, path: str, warm: str) -> None:
    """Time one read in this fresh process, after the same read of a small file of the same
    format (imports and compiled code loaded: the figure is the reading)."""
    _run(kind, warm)
    start = time.perf_counter()
    rows = _run(kind, path)
    seconds = time.perf_counter() - start
    peak = _peak_mb()
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_rss_mb": peak}))


def _measure(kind: str, path: str, warm: str, repeat: int) -> dict:
    best = None
    for _ in range(repeat):
        out = subprocess.run([sys.executable, __file__, "--child", kind, path, warm], check=True,
                             capture_output=True, text=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        if best is None or result["seconds"] < best["seconds"]:
            best = result
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=16_700.0)
    parser.add_argument("--duration", type=float, default=600.0)
    parser.add_argument("--dir", default=None)
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    from reflexforge.ingest.write import write_trace
    from reflexforge.synth import synthesize
    from reflexforge.telemetry import read_telemetry

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        csv = os.path.join(tmp, "t.csv")
        synthesize(csv, "poisson", args.duration, seed=1, rate=args.rate)
        trace = read_telemetry(csv)
        paths = {"csv": csv, "pcap": os.path.join(tmp, "t.pcap"),
                 "parquet": os.path.join(tmp, "t.parquet")}
        write_pcap(trace, paths["pcap"])
        write_trace(trace, paths["parquet"])
        from reflexforge.trace import Trace

        small = Trace(trace.ts_ns[:300_000], trace.size[:300_000], rtt_samples=(
            np.empty(0, np.int64), np.empty(0, np.int64)))
        warm = {k: os.path.join(tmp, f"warm.{k}") for k in paths}
        write_pcap(small, warm["pcap"])
        write_trace(small, warm["parquet"])
        write_trace(small, warm["csv"], "csv")
        print(f"{trace.rows} packets: " + ", ".join(
            f"{k} {os.path.getsize(p) / 1e6:.0f} MB" for k, p in paths.items()))
        results = {}
        for kind, path in [("csv", csv), ("pcap", paths["pcap"]),
                           ("parquet", paths["parquet"]), ("check-csv", csv),
                           ("check-parquet", paths["parquet"]), ("check-pcap", paths["pcap"]),
                           ("command-csv", csv), ("command-parquet", paths["parquet"]),
                           ("command-pcap", paths["pcap"])]:
            results[kind] = r = _measure(kind, path, warm[kind.split("-")[-1]], args.repeat)
            assert r["rows"] == trace.rows, (kind, r)
            print(f"{kind:14s} {r['seconds']:6.2f} s  {r['rows'] / r['seconds'] / 1e6:5.1f} M "
                  f"rows/s  peak RSS {r['peak_rss_mb']:6.0f} MB")
        csv_s = results["csv"]["seconds"]
        peaks = results["pcap"]["peak_rss_mb"], results["csv"]["peak_rss_mb"]
        print(f"pcap / csv time {results['pcap']['seconds'] / csv_s:.2f} (target <= 2), "
              f"peak {peaks[0]:.0f} vs {peaks[1]:.0f} MB;"
              f" csv / parquet time {csv_s / results['parquet']['seconds']:.1f} (target >= 3); "
              f"check / read: csv {results['check-csv']['seconds'] / csv_s:.2f}, parquet "
              f"{results['check-parquet']['seconds'] / results['parquet']['seconds']:.2f}, pcap "
              f"{results['check-pcap']['seconds'] / results['pcap']['seconds']:.2f} (target <= 1); "
              "check / a command's read (warnings computed): " + ", ".join(
                  f"{k} {results['check-' + k]['seconds'] / results['command-' + k]['seconds']:.2f}"
                  for k in ("csv", "parquet", "pcap")))


if __name__ == "__main__":
    main()
