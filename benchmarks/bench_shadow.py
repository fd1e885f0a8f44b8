"""Benchmark: ``reflex-forge shadow`` wall time and peak memory, against a reference checkout.

Synthesizes two 10-minute `mixed` traces once (seeds 1 and 2; or reuses ``--train`` and
``--trace``), builds a reflex from the first, then shadows it on the second as fresh child
processes, alternating this checkout with ``--reference DIR`` (another checkout of the
project, e.g. ``git worktree add /tmp/ref REV``, imported through PYTHONPATH) so that both see
the same machine load. One unmeasured run of each first compiles its numba cache. Each run's
peak RSS is that child's own (``os.wait4``); the reports of the two are compared too.

Usage: python benchmarks/bench_shadow.py [--reference DIR] [--repeat 3] [--train PATH]
                                         [--trace PATH] [--keep DIR]
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


def run(cmd: list[str], pythonpath: str | None, cwd: Path) -> tuple[int, float, float]:
    """(exit code, wall s, peak RSS MB) of one child process, run in ``cwd`` (not in a
    checkout: ``python -m`` puts the working directory ahead of PYTHONPATH)."""
    env = dict(os.environ, SOURCE_DATE_EPOCH="0")
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    start = time.perf_counter()
    child = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode not in (0, 1):
        sys.stderr.write(child.stderr.read().decode(errors="replace"))
    child.stderr.close()
    return child.returncode, seconds, usage.ru_maxrss / 1024


def traces(work: Path, args: argparse.Namespace) -> tuple[Path, Path]:
    from reflexforge.synth import synthesize

    paths = []
    for given, seed in ((args.train, 1), (args.trace, 2)):
        path = Path(given) if given else work / f"mixed-seed{seed}.csv"
        if not path.exists():
            stats = synthesize(path, "mixed", 600.0, seed=seed)
            print(f"synth seed {seed}: {stats.rows} packets", file=sys.stderr)
        paths.append(path)
    return paths[0], paths[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", default=None, metavar="DIR",
                        help="a checkout to compare with (default: none)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--train", default=None, help="reuse this training trace")
    parser.add_argument("--trace", default=None, help="reuse this shadow trace")
    parser.add_argument("--keep", default=None, metavar="DIR",
                        help="work in DIR and keep it (default: a temporary directory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_shadow.") as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        work = work.resolve()
        train, trace = (path.resolve() for path in traces(work, args))
        model = work / "model.reflex"
        forge = [sys.executable, "-m", "reflexforge.cli"]
        code, _, _ = run([*forge, "build", str(train), "-o", str(model), "--quiet"], None, work)
        if code != 0:
            raise SystemExit(f"build failed with exit {code}")
        here = str(Path(__file__).resolve().parents[1])
        setups = {"this checkout": here}
        if args.reference:
            setups["reference"] = str(Path(args.reference).resolve())
        figures: dict[str, list[tuple[float, float]]] = {name: [] for name in setups}
        reports = {}
        for round_ in range(args.repeat + 1):  # round 0 compiles the numba caches
            for index, (name, path) in enumerate(setups.items()):
                report = work / f"report-{index}.json"
                cmd = [*forge, "shadow", str(model), str(trace), "--report", str(report),
                       "--quiet"]
                code, seconds, peak = run(cmd, path, work)
                if code not in (0, 1):
                    raise SystemExit(f"{name}: shadow failed with exit {code}")
                if round_ == 0:
                    reports[name] = json.loads(report.read_text())
                else:
                    figures[name].append((seconds, peak))
        packets = next(iter(reports.values()))["trace"]["packets"]
        out = {"command": f"reflex-forge shadow MODEL {trace.name} --report R --quiet",
               "packets": packets, "cpus": os.cpu_count()}
        for name, runs in figures.items():
            out[name] = {"wall_s": [round(s, 2) for s, _ in runs],
                         "median_wall_s": round(statistics.median(s for s, _ in runs), 2),
                         "peak_rss_mb": round(max(p for _, p in runs), 1),
                         "bytes_per_packet": round(max(p for _, p in runs) * 2**20 / packets, 1)}
        if args.reference:
            mine, ref = reports.values()
            out["same_report"] = mine == ref
        print(json.dumps(out, indent=2))
        return 0


if __name__ == "__main__":
    sys.exit(main())
