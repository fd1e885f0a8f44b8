#!/usr/bin/env python3
"""``reflex-forge label`` against a compiled single-core reference process doing the same work.

The reference is the least a process can do for the same output: read the CSV with
pyarrow, compute the features and the oracle labels with the forge's numba kernels in this
one process (``make_training_set``, ``workers=1``), write training-set.csv. It skips the
command line, the forge's validating reader and its worker pool. Both write byte-identical
files (checked). Runs alternate, each a fresh process (interpreter start-up, imports and
numba's cache loading included: what a user waits for).

    .venv/bin/python benchmarks/bench_label_reference.py [--runs 5] [--seed 1]
    # makes a 40 s `mixed` trace of ~2.9 M packets (synth --rate 32000) unless --trace is given

Target (issue 10): reflex-forge label <= 1.2x the reference.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def reference(telemetry: str, output: str) -> None:
    """The reference process: pyarrow read, the forge's kernels in-process, one write."""
    import numpy as np
    import pyarrow as pa
    from pyarrow import csv

    from reflexforge.config import ForgeOptions
    from reflexforge.labelling import make_training_set
    from reflexforge.trace import Trace
    from reflexforge.trainset import write_training_set

    types = {"ts_ns": pa.int64(), "bytes": pa.uint16(), "rtt_ns": pa.int64()}
    table = csv.read_csv(telemetry, convert_options=csv.ConvertOptions(column_types=types))
    ts = table.column("ts_ns").to_numpy()
    size = table.column("bytes").to_numpy()
    rtt = table.column("rtt_ns").fill_null(-1).to_numpy() if "rtt_ns" in table.column_names \
        else np.full(ts.shape[0], -1, dtype=np.int64)
    training_set, _ = make_training_set(Trace(ts, size, rtt, path=telemetry),
                                         ForgeOptions(workers=1))
    write_training_set(output, training_set)


def _timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each (default 5)")
    parser.add_argument("--trace", help="telemetry to label (default: synthesize one)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthesized trace")
    parser.add_argument("--reference", nargs=2, metavar=("TELEMETRY", "OUT"),
                        help=argparse.SUPPRESS)  # the reference process itself
    args = parser.parse_args()
    if args.reference:
        reference(*args.reference)
        return 0
    bindir = Path(sys.executable).parent
    forge = shutil.which("reflex-forge", path=str(bindir)) or "reflex-forge"
    with tempfile.TemporaryDirectory(prefix="bench-label-") as tmp:
        trace = args.trace or str(Path(tmp) / "t40.csv")
        if not args.trace:
            subprocess.run([forge, "synth", "--profile", "mixed", "--duration", "40", "--rate",
                            "32000", "--seed", str(args.seed), "-o", trace, "-q"], check=True)
        ours_out, ref_out = str(Path(tmp) / "ours.csv"), str(Path(tmp) / "ref.csv")
        ours_cmd = [forge, "label", trace, "-o", ours_out, "-q"]
        ref_cmd = [sys.executable, __file__, "--reference", trace, ref_out]
        _timed(ours_cmd), _timed(ref_cmd)  # warm the page cache and numba's cache
        if Path(ours_out).read_bytes() != Path(ref_out).read_bytes():
            raise SystemExit("the reference and reflex-forge label wrote different files")
        ours, ref = [], []
        for _ in range(args.runs):
            ours.append(_timed(ours_cmd))
            ref.append(_timed(ref_cmd))
    print(f"reflex-forge label: best {min(ours):.2f} s, median {statistics.median(ours):.2f} s")
    print(f"reference (pyarrow + numba, one process, one core): best {min(ref):.2f} s, "
          f"median {statistics.median(ref):.2f} s")
    print(f"ratio: best-to-best {min(ours) / min(ref):.2f}x, median "
          f"{statistics.median(ours) / statistics.median(ref):.2f}x (target <= 1.2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
