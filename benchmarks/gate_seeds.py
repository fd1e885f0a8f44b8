"""The gate across profiles and seeds: train on one trace, shadow on another, per seed pair.

For each profile P and seed pair TRAIN:SHADOW it runs, as child processes of the installed
CLI, `reflex-forge synth --profile P --duration 600 --seed S -o DIR/P-seedS.csv` (once per
trace, reused when the file exists), `reflex-forge build DIR/P-seedTRAIN.csv -o MODEL --quiet
[OPTIONS]` and `reflex-forge shadow MODEL DIR/P-seedSHADOW.csv --report REPORT --quiet`, then
prints one markdown table row per (setting, profile, pair) with the gate figures, the model
selection's winner, the best static pair by mean J (from the report's baselines), the
reflex's closed-loop gap closed minus that pair's (points) and the wall times. All rows also
go to DIR/gate_seeds.json, and per-profile means and worst cases are printed at the end.

TRAIN may join seeds with + (`1+3:2`): one reflex built from all those traces.

A 10-minute trace is about 200 MB of CSV; `--drop-traces` deletes each one once no later pair
of the run needs it (a long run over many seeds otherwise fills the disk).

Usage: python benchmarks/gate_seeds.py [--profiles mixed diurnal ...] [--seeds 1:2 3:4 ...]
                                       [--out DIR] [--setting NAME=OPTIONS ...]
                                       [--drop-traces]
where OPTIONS are `reflex-forge build` options in one string, e.g.
`--setting "regressors=--model regressors --select off"`; without --setting only the
defaults run.
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

HEADER = ("| options | profile | seeds | winner | ∆p95 open / closed | osc/30 s max "
          "| switches/min | gap closed open / closed | promoted | best static J: pair, gap closed "
          "| vs static (points) | climber | build s | shadow s |")
RULE = "|---|---|---|---|---:|---:|---:|---:|---|---|---:|---:|---:|---:|"


def forge(*args: str) -> tuple[int, float]:
    """Run `reflex-forge ARGS` as a child process; return its exit code and wall seconds."""
    start = time.perf_counter()
    code = subprocess.run([sys.executable, "-m", "reflexforge.cli", *args],
                          stdout=subprocess.DEVNULL).returncode
    return code, time.perf_counter() - start


def trace(out: Path, profile: str, seed: int, duration: str) -> Path:
    """The PROFILE trace of SEED, synthesized once into OUT."""
    path = out / f"{profile}-seed{seed}.csv"
    if not path.exists():
        code, seconds = forge("synth", "--profile", profile, "--duration", duration,
                              "--seed", str(seed), "-o", str(path), "--quiet")
        if code != 0:
            raise SystemExit(f"synth --seed {seed} failed with exit {code}")
        print(f"synth seed {seed}: {seconds:.1f} s", file=sys.stderr, flush=True)
    return path


def drop_unneeded(out: Path, profile: str, seeds: list, later: list) -> None:
    """Delete the PROFILE traces of ``seeds`` that none of the ``later`` jobs uses."""
    needed = {(p, int(x)) for p, (t, s) in later for x in [*t.split("+"), s]}
    for seed in seeds:
        if (profile, int(seed)) not in needed:
            (out / f"{profile}-seed{int(seed)}.csv").unlink(missing_ok=True)


def pct(x: float | None) -> str:
    return "—" if x is None else f"{x:+.1%}"


def share(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def winner(model: Path) -> str:
    """The model selection's winner, from the model's metadata."""
    import reflexfmt

    training = reflexfmt.load(model).metadata["training"]
    selection = training.get("selection") or {}
    entry = (selection.get("candidates") or {}).get(selection.get("winner"), {})
    if entry.get("model") in ("policy-tree", "cost-regressor"):
        return (f"{entry['model']} H={entry['horizon']} leaf={entry['min_leaf']} "
                f"{entry['features']} ({entry['leaves']} leaves)")
    return str(entry.get("model", training.get("model")))


def row(name: str, profile: str, train: str, shadow: int, r: dict[str, Any], build_s: float,
        shadow_s: float, won: str) -> dict[str, Any]:
    """The figures of one shadow report that the table shows."""
    best = r["baselines"]["best_static_J"]
    pair = best["pair"]
    return {
        "options": name, "profile": profile, "train_seed": train, "shadow_seed": shadow,
        "winner": won, "vs_best_static_closed_loop": r["vs_best_static"]["closed_loop"],
        "vs_best_static_open_loop": r["vs_best_static"]["open_loop"],
        "climber_gap_closed": r["baselines"]["hill_climber"]["gap_closed"],
        "checks": r["checks"],
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


def points(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:+.1f}"


def line(x: dict[str, Any]) -> str:
    n, d = x["best_static_J_pair"]
    return (f"| {x['options']} | {x['profile']} | {x['train_seed']}→{x['shadow_seed']} "
            f"| {x['winner']} "
            f"| {pct(x['delta_p95_open_loop'])} / {pct(x['delta_p95_closed_loop'])} "
            f"| {x['oscillations_max_per_30s']} | {x['switches_per_min']:.1f} "
            f"| {share(x['gap_closed_open_loop'])} / {share(x['gap_closed_closed_loop'])} "
            f"| {'yes' if x['promoted'] else 'no'} "
            f"| ({n}, {d} µs), {share(x['best_static_J_gap_closed'])} "
            f"| {points(x['vs_best_static_closed_loop'])} "
            f"| {share(x['climber_gap_closed'])} "
            f"| {x['build_s']:.0f} | {x['shadow_s']:.0f} |")


def summary(rows: list[dict[str, Any]]) -> None:
    """Per setting and profile: mean and worst closed-loop gap closed against the best static
    pair's, promotions, worst oscillations."""
    print("\n| options | profile | pairs | promoted | gap closed (closed loop) mean / worst "
          "| best static mean | vs static worst (points) | open-closed max (points) "
          "| osc/30 s max |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    keys = sorted({(x["options"], x["profile"]) for x in rows})
    for name, profile in keys:
        sel = [x for x in rows if x["options"] == name and x["profile"] == profile]
        gaps = [x["gap_closed_closed_loop"] for x in sel]
        static = [x["best_static_J_gap_closed"] for x in sel]
        vs = [x["vs_best_static_closed_loop"] for x in sel]
        spread = [abs(x["gap_closed_open_loop"] - x["gap_closed_closed_loop"]) for x in sel]
        print(f"| {name} | {profile} | {len(sel)} | {sum(x['promoted'] for x in sel)} "
              f"| {share(sum(gaps) / len(gaps))} / {share(min(gaps))} "
              f"| {share(sum(static) / len(static))} | {points(min(vs))} "
              f"| {100 * max(spread):.1f} | {max(x['oscillations_max_per_30s'] for x in sel)} |")


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
    parser.add_argument("--profiles", nargs="+", default=["mixed"], metavar="PROFILE",
                        help="synth profiles (default mixed)")
    parser.add_argument("--seeds", nargs="+", default=["1:2", "3:4", "5:6", "7:8"],
                        metavar="TRAIN:SHADOW")
    parser.add_argument("--out", default="gate-seeds", help="traces, models and reports")
    parser.add_argument("--duration", default="600", help="trace length in s (default 600)")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=OPTIONS",
                        help="build options to try (repeatable; default: the defaults)")
    parser.add_argument("--drop-traces", action="store_true",
                        help="delete each trace once no later pair of this run needs it")
    args = parser.parse_args()
    seed_pairs, named = pairs(args.seeds), settings(args.setting)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    print(HEADER)
    print(RULE, flush=True)
    jobs = [(p, s) for p in args.profiles for s in seed_pairs]
    for index, (profile, (train, shadow)) in enumerate(jobs):
        train_csvs = [str(trace(out, profile, int(t), args.duration))
                      for t in train.split("+")]
        shadow_csv = trace(out, profile, shadow, args.duration)
        for name, opts in named.items():
            stem = f"{name}.{profile}.{train}-{shadow}"
            model, report = out / f"{stem}.reflex", out / f"{stem}.json"
            code, build_s = forge("build", *train_csvs, "-o", str(model), "--quiet", *opts)
            if code != 0:
                print(f"| {name} | {profile} | {train}→{shadow} | build failed, exit {code} |",
                      flush=True)
                continue
            code, shadow_s = forge("shadow", str(model), str(shadow_csv), "--report",
                                   str(report), "--min-duration", args.duration, "--quiet")
            if code not in (0, 1):
                print(f"| {name} | {profile} | {train}→{shadow} | shadow failed, exit {code} |",
                      flush=True)
                continue
            rows.append(row(name, profile, train, shadow, json.loads(report.read_text()),
                            build_s, shadow_s, winner(model)))
            print(line(rows[-1]), flush=True)
        if args.drop_traces:
            drop_unneeded(out, profile, [*train.split("+"), shadow], jobs[index + 1:])
    (out / "gate_seeds.json").write_text(json.dumps(rows, indent=2) + "\n")
    if rows:
        summary(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
