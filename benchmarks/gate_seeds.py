"""The issue-4 gate across seeds: train on one `mixed` trace, shadow on another, per seed pair.

For each seed pair TRAIN:SHADOW it runs, as child processes of the installed CLI,
`reflex-forge synth --profile mixed --duration 600 --seed S -o DIR/seedS.csv` (once per seed,
reused when the file exists), `reflex-forge build DIR/seedTRAIN.csv -o MODEL --quiet [OPTIONS]`
and `reflex-forge shadow MODEL DIR/seedSHADOW.csv --report REPORT --quiet`, then prints one
markdown table row per (setting, pair) with the gate figures, the best static pair by mean J
(from the report's baselines) and the wall times. All rows also go to DIR/gate_seeds.json.

TRAIN may join seeds with + (`1+3:2`): one reflex built from all those traces.

Usage: python benchmarks/gate_seeds.py [--seeds 1:2 3:4 5:6 1+3:2] [--out DIR]
                                       [--setting NAME=OPTIONS ...]
where OPTIONS are `reflex-forge build` options in one string, e.g.
`--setting "sc1000=--switch-cost 1000"`; without --setting only the defaults run.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HEADER = ("| options | seeds | ∆p95 open / closed | osc/30 s max | switches/min "
          "| gap closed open / closed | promoted | best static J: pair, ∆p95, gap closed "
          "| build s | shadow s |")
RULE = "|---|---|---:|---:|---:|---:|---|---|---:|---:|"


def forge(*args: str) -> tuple[int, float]:
    """Run `reflex-forge ARGS` as a child process; return its exit code and wall seconds."""
    start = time.perf_counter()
    code = subprocess.run([sys.executable, "-m", "reflexforge.cli", *args],
                          stdout=subprocess.DEVNULL).returncode
    return code, time.perf_counter() - start


def trace(out: Path, seed: int, duration: str) -> Path:
    """The `mixed` trace of SEED, synthesized once into OUT."""
    path = out / f"seed{seed}.csv"
    if not path.exists():
        code, seconds = forge("synth", "--profile", "mixed", "--duration", duration,
                              "--seed", str(seed), "-o", str(path), "--quiet")
        if code != 0:
            raise SystemExit(f"synth --seed {seed} failed with exit {code}")
        print(f"synth seed {seed}: {seconds:.1f} s", file=sys.stderr, flush=True)
    return path


def pct(x: float | None) -> str:
    return "—" if x is None else f"{x:+.1%}"


def share(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def row(name: str, train: str, shadow: int, r: dict[str, Any], build_s: float,
        shadow_s: float) -> dict[str, Any]:
    """The figures of one shadow report that the table shows."""
    best = r["baselines"]["best_static_J"]
    pair = best["pair"]
    return {
        "options": name, "train_seed": train, "shadow_seed": shadow,
        "delta_p95_open_loop": r["delta_p95_open_loop"],
        "delta_p95_closed_loop": r["delta_p95_closed_loop"],
        "oscillations_max_per_30s": r["oscillations_max_per_30s"],
        "switches_per_min": r["switches_per_min"],
        "gap_closed_open_loop": r["gap_closed_open_loop"],
        "gap_closed_closed_loop": r["gap_closed_closed_loop"],
        "gap_closed": r["gap_closed"], "promoted": r["promoted"],
        "best_static_J_pair": [pair["flush_threshold"], pair["max_batch_delay_us"]],
        "best_static_J_delta_p95": best["delta_p95"],
        "best_static_J_gap_closed": best["gap_closed"],
        "trace_sha1": r["trace"]["sha1"], "trainer_commit": r["model"]["trainer_commit"],
        "build_s": round(build_s, 1), "shadow_s": round(shadow_s, 1),
    }


def line(x: dict[str, Any]) -> str:
    n, d = x["best_static_J_pair"]
    return (f"| {x['options']} | {x['train_seed']}→{x['shadow_seed']} "
            f"| {pct(x['delta_p95_open_loop'])} / {pct(x['delta_p95_closed_loop'])} "
            f"| {x['oscillations_max_per_30s']} | {x['switches_per_min']:.1f} "
            f"| {share(x['gap_closed_open_loop'])} / {share(x['gap_closed_closed_loop'])} "
            f"| {'yes' if x['promoted'] else 'no'} "
            f"| ({n}, {d} µs), {pct(x['best_static_J_delta_p95'])}, "
            f"{share(x['best_static_J_gap_closed'])} "
            f"| {x['build_s']:.0f} | {x['shadow_s']:.0f} |")


def pairs(text: list[str]) -> list[tuple[str, int]]:
    """TRAIN:SHADOW pairs; TRAIN may join several seeds with + (one reflex built from all)."""
    try:
        out = []
        for item in text:
            train, shadow = item.split(":")
            out.append(("+".join(str(int(t)) for t in train.split("+")), int(shadow)))
        return out
    except ValueError:
        raise SystemExit("--seeds takes pairs TRAIN:SHADOW, e.g. 1:2 3:4 1+3:2") from None


def settings(text: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in text or ["default="]:
        name, sep, opts = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"--setting takes NAME=OPTIONS, got {item!r}")
        out[name] = shlex.split(opts)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", nargs="+", default=["1:2", "3:4", "5:6"],
                        metavar="TRAIN:SHADOW")
    parser.add_argument("--out", default="gate-seeds", help="traces, models and reports")
    parser.add_argument("--duration", default="600", help="trace length in s (default 600)")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=OPTIONS",
                        help="build options to try (repeatable; default: the defaults)")
    args = parser.parse_args()
    seed_pairs, named = pairs(args.seeds), settings(args.setting)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    print(HEADER)
    print(RULE, flush=True)
    for train, shadow in seed_pairs:
        train_csvs = [str(trace(out, int(t), args.duration)) for t in train.split("+")]
        shadow_csv = trace(out, shadow, args.duration)
        for name, opts in named.items():
            stem = f"{name}.{train}-{shadow}"
            model, report = out / f"{stem}.reflex", out / f"{stem}.json"
            code, build_s = forge("build", *train_csvs, "-o", str(model), "--quiet", *opts)
            if code != 0:
                print(f"| {name} | {train}→{shadow} | build failed, exit {code} |", flush=True)
                continue
            code, shadow_s = forge("shadow", str(model), str(shadow_csv), "--report",
                                   str(report), "--min-duration", args.duration, "--quiet")
            if code not in (0, 1):
                print(f"| {name} | {train}→{shadow} | shadow failed, exit {code} |", flush=True)
                continue
            rows.append(row(name, train, shadow, json.loads(report.read_text()), build_s,
                            shadow_s))
            print(line(rows[-1]), flush=True)
    (out / "gate_seeds.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
