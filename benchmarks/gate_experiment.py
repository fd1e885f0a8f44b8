"""The issue-4 target: train on a 10-minute `mixed` trace, shadow on another seed, per setting.

Usage: python benchmarks/gate_experiment.py [--out DIR] [--duration S] [SETTING ...]
where a SETTING is a name from SETTINGS (default: all). Prints one line per setting with the
shadow figures (both loops' ∆p95, oscillations per 30 s, switches/min, gap closed, verdict).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

SETTINGS: dict[str, list[str]] = {
    "plain": ["--plain"],
    "default": [],
    "next+viterbi200,confirm1,dwell0": ["--confirm-steps", "1", "--dwell-steps", "0"],
    "next+viterbi200,confirm2,dwell10": ["--confirm-steps", "2", "--dwell-steps", "10"],
    "current+viterbi200": ["--label-target", "current"],
    "next,no-viterbi": ["--switch-cost", "0"],
}


def forge(*args: str) -> int:
    return subprocess.run([sys.executable, "-m", "reflexforge.cli", *args],
                          stdout=subprocess.DEVNULL).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="gate-experiment")
    parser.add_argument("--duration", default="600")
    parser.add_argument("settings", nargs="*", default=list(SETTINGS))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train, held = out / "train.csv", out / "heldout.csv"
    for path, seed in ((train, "1"), (held, "2")):
        if not path.exists():
            forge("synth", "--profile", "mixed", "--duration", args.duration, "--seed", seed,
                  "-o", str(path), "--quiet")
    for name in args.settings:
        model = out / f"{name}.reflex"
        report = out / f"{name}.json"
        t0 = time.perf_counter()
        if forge("build", str(train), "-o", str(model), "--quiet", *SETTINGS[name]) != 0:
            print(f"{name}: build failed")
            continue
        t1 = time.perf_counter()
        code = forge("shadow", str(model), str(held), "--quiet", "--report", str(report),
                     "--min-duration", args.duration)
        t2 = time.perf_counter()
        r = json.loads(report.read_text())
        print(f"{name}: exit {code}, ∆p95 open {r['delta_p95_open_loop']:+.1%} closed "
              f"{r['delta_p95_closed_loop']:+.1%}, osc/30s max {r['oscillations_max_per_30s']}, "
              f"switches/min {r['switches_per_min']:.1f}, gap closed {r['gap_closed']:.1%}, "
              f"promoted {r['promoted']} (build {t1 - t0:.0f} s, shadow {t2 - t1:.0f} s)",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
