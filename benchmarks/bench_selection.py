"""Benchmark: what model selection costs a build, against the earlier build in the same run.

Synthesizes a 10-minute `mixed` trace once (seed 1; or reuses ``--trace``), then runs, as
child processes and alternating so that both see the same machine load,
``reflex-forge build TRACE -o M --quiet`` (the default: policy trees, regressors and the
static pair fitted with a rate copy of the trace and replayed in closed loop on the
validation span) and
``reflex-forge build TRACE -o M --quiet --model regressors --select off --augment off``
(the build before model selection: two regressors, no replay, no rate copy), ``--repeat``
times each. Prints the wall times, their medians and the ratio. Target (issue 8): at most
2x.

Usage: python benchmarks/bench_selection.py [--repeat 3] [--workers 2] [--trace PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = {"selection (default)": [],
            "before: --model regressors --select off --augment off":
            ["--model", "regressors", "--select", "off", "--augment", "off"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None,
                        help="--workers for both builds (default: the CLI's own default)")
    parser.add_argument("--trace", default=None, help="reuse this telemetry file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_selection.") as tmp:
        trace = Path(args.trace) if args.trace else Path(tmp) / "mixed.csv"
        if not trace.exists():
            from reflexforge.synth import synthesize

            synthesize(trace, "mixed", 600.0, seed=1)
        env = dict(os.environ, SOURCE_DATE_EPOCH="0")
        times: dict[str, list[float]] = {name: [] for name in SETTINGS}
        for _ in range(args.repeat):
            for name, extra in SETTINGS.items():
                workers = [] if args.workers is None else ["--workers", str(args.workers)]
                cmd = [sys.executable, "-m", "reflexforge.cli", "build", str(trace), "-o",
                       str(Path(tmp) / "m.reflex"), "--quiet", *workers, *extra]
                start = time.perf_counter()
                done = subprocess.run(cmd, env=env, capture_output=True, text=True)
                if done.returncode != 0:
                    sys.stderr.write(done.stdout + done.stderr)
                    return done.returncode
                times[name].append(round(time.perf_counter() - start, 2))
        medians = {name: statistics.median(t) for name, t in times.items()}
        new, old = medians.values()
        print(json.dumps({"trace": str(trace), "workers": args.workers,
                          "cpus": os.cpu_count(), "wall_s": times, "median_s": medians,
                          "ratio": round(new / old, 2), "target_met": new <= 2 * old},
                         indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
