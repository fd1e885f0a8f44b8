#!/usr/bin/env python3
"""Run the reflexfmt fuzz harness for a bounded time; exit 1 on any finding.

    python fuzz/run_bounded.py --seconds 120          (CI: tools/run_tests.sh)
    python fuzz/run_bounded.py --seconds 3600 --workers 2 --no-peak   (a long campaign)

Seeds: every spec/vectors/*.reflex. The working corpus grows in fuzz/corpus-work/corpus
(git-ignored) and is reused by later runs; findings land in fuzz/corpus-work/artifacts/.
A finding is an exception other than ReflexFormatError, an input slower than 1 s
(libFuzzer -timeout=1), or a large allocation: the address space is capped
(NEM1_FUZZ_AS_MB, default 512 MiB above the harness's start) and, unless --no-peak, the
traced Python allocation peak of every --peak-every-th input must stay under --peak-mb.
Turn every finding into an n_ vector (spec/vectors/src/vectors.json) once it is fixed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HARNESS = ROOT / "fuzz" / "fuzz_reflexfmt.py"
WORK = ROOT / "fuzz" / "corpus-work"
MAX_LEN = 131080  # just over the 131072-byte file limit, so E_LIMIT is reachable


def prepare_seeds(seeds: Path) -> int:
    """Copy the conformance vectors into a seed directory; returns their number."""
    shutil.rmtree(seeds, ignore_errors=True)
    seeds.mkdir(parents=True)
    count = 0
    for vector in sorted((ROOT / "spec" / "vectors").glob("*.reflex")):
        shutil.copyfile(vector, seeds / vector.name)
        count += 1
    return count


def check_seeds(seeds: Path, limit_s: float = 1.0) -> list[str]:
    """Run the invariants on every seed in this process: libFuzzer does not time its seeds."""
    sys.path.insert(0, str(ROOT / "fuzz"))
    from invariants import check

    problems = []
    for seed in sorted(seeds.iterdir()):
        started = time.perf_counter()
        try:
            check(seed.read_bytes())
        except Exception as exc:  # every escape, AssertionError included, is a finding
            problems.append(f"{seed.name}: {type(exc).__name__}: {exc}")
        elapsed = time.perf_counter() - started
        if elapsed > limit_s:
            problems.append(f"{seed.name}: took {elapsed:.2f} s")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=120, help="total fuzzing time")
    parser.add_argument("--workers", type=int, default=1, help="parallel fuzzing processes")
    parser.add_argument("--peak-mb", type=int, default=32, help="per-input traced peak (MiB)")
    parser.add_argument("--peak-every", type=int, default=8, help="trace every Nth input")
    parser.add_argument("--no-peak", action="store_true", help="skip tracemalloc (faster)")
    args = parser.parse_args(argv)
    start = time.time() - 1

    corpus, seeds, artifacts = WORK / "corpus", WORK / "seeds", WORK / "artifacts"
    corpus.mkdir(parents=True, exist_ok=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    n_seeds = prepare_seeds(seeds)
    problems = check_seeds(seeds)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print("fuzz: FAILED on the seeds", file=sys.stderr)
        return 1
    env = {**os.environ, "NEM1_FUZZ_AS_MB": os.environ.get("NEM1_FUZZ_AS_MB", "512")}
    env["NEM1_FUZZ_PEAK_MB"] = "0" if args.no_peak else str(args.peak_mb)
    env["NEM1_FUZZ_PEAK_EVERY"] = str(args.peak_every)
    cmd = [
        sys.executable,
        str(HARNESS),
        str(corpus),
        str(seeds),
        f"-max_total_time={args.seconds}",
        "-timeout=1",
        f"-max_len={MAX_LEN}",
        "-rss_limit_mb=2048",
        f"-artifact_prefix={artifacts}/",
        "-print_final_stats=1",
    ]
    if args.workers > 1:
        cmd += [f"-workers={args.workers}", f"-jobs={args.workers}"]
    print(f"fuzz: {n_seeds} seeds, {args.seconds} s, {args.workers} worker(s)", file=sys.stderr)
    done = subprocess.run(cmd, env=env, cwd=WORK, capture_output=True, text=True)
    log = done.stdout + done.stderr
    (WORK / "last-run.log").write_text(log, encoding="utf-8")
    runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log)
    if runs:
        print(f"fuzz: {sum(int(r) for r in runs)} inputs executed", file=sys.stderr)
    found = sorted(p.name for p in artifacts.iterdir() if p.stat().st_mtime >= start)
    if done.returncode != 0 or found:
        print(log[-6000:], file=sys.stderr)
        print(f"fuzz: FAILED (exit {done.returncode}); artifacts: {found}", file=sys.stderr)
        return 1
    print("fuzz: no findings", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
