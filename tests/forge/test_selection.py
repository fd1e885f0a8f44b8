"""Model selection and the new build/train options (issue 8): candidates, the winner rule,
the metadata ``training.selection``, bad option values, tiny traces, determinism."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from reflexfmt import load
from reflexforge.candidates import HYSTERESIS_GRID, Candidate, candidate_grid
from reflexforge.cli import main
from reflexforge.config import GRID_D_US, GRID_N, PAIRS
from reflexforge.selection import SELECT_TOLERANCE, Score, choose
from reflexforge.synth import synthesize
from reflexforge.train import TrainOptions


@pytest.fixture(autouse=True)
def _epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "86400")


def score(mean_j: float, eligible: bool = True) -> Score:
    return Score(mean_j_us=mean_j, gap_closed=0.5, switches_per_min=1.0,
                 oscillations_max_per_30s=0, delta_p95=-0.5, eligible=eligible)


# --- the winner rule ----------------------------------------------------------------------


def test_choose_prefers_the_simplest_within_the_tolerance() -> None:
    best = 1000.0
    edge = best * (1 + SELECT_TOLERANCE)
    scores = [score(edge), score(best), score(np.nextafter(edge, 2 * edge))]
    assert choose(scores, [1, 9, 1]) == 0  # within tolerance and fewer leaves
    assert choose(scores, [5, 9, 1]) == 0  # index 2 is just outside the tolerance
    assert choose(scores, [9, 5, 1]) == 1
    assert choose([score(best), score(best)], [3, 3]) == 0  # equal leaves: the earliest
    assert choose([score(best), score(best)], [4, 3]) == 1


def test_choose_takes_only_eligible_candidates_and_else_the_simplest() -> None:
    scores = [score(900.0, eligible=False), score(1000.0), score(1003.0)]
    assert choose(scores, [1, 4, 2]) == 2  # 900 is not eligible; 1003 within 0.5 % of 1000
    # none eligible: the simplest candidate, however much lower another's mean J is
    scores = [score(1000.0, False), score(500.0, False), score(900.0, False)]
    assert choose(scores, [1, 4, 2]) == 0
    assert choose(scores, [4, 1, 1]) == 1  # equal leaves: the earliest
    assert choose(scores[1:], [3, 3]) == 0


def test_choose_a_silent_span_lets_the_training_windows_decide() -> None:
    def sc(mean_j: float, schedule: str, train_j: float | None) -> Score:
        return Score(mean_j_us=mean_j, gap_closed=0.5, switches_per_min=1.0,
                     oscillations_max_per_30s=0, delta_p95=-0.5, eligible=True,
                     schedule=schedule, train_mean_j_us=train_j)

    # The tree made the static pair's decisions throughout the span, and is better on its
    # training windows by more than the tolerance: the tree.
    assert choose([sc(100.0, "a", 500.0), sc(100.0, "a", 400.0)], [1, 3]) == 1
    # ... of the trees with that schedule, the simplest; a tree with another one is not taken
    assert choose([sc(100.0, "a", 500.0), sc(100.0, "a", 300.0), sc(100.0, "a", 400.0),
                   sc(100.0, "b", 100.0)], [1, 4, 2, 2]) == 2
    # not better on the training windows by more than the tolerance: the static pair
    edge = 500.0 / (1 + SELECT_TOLERANCE)
    assert choose([sc(100.0, "a", 500.0), sc(100.0, "a", edge)], [1, 3]) == 0
    assert choose([sc(100.0, "a", 500.0), sc(100.0, "a", np.nextafter(edge, 0))], [1, 3]) == 1
    # another schedule within the tolerance (the span told them apart): the simplest
    assert choose([sc(100.0, "a", 500.0), sc(100.1, "b", 100.0)], [1, 3]) == 0
    # the static pair not the winner, or no training figures: the rule does not apply
    assert choose([sc(200.0, "a", 500.0), sc(100.0, "b", 400.0), sc(100.0, "b", 300.0)],
                  [1, 2, 3]) == 1
    assert choose([sc(100.0, "a", None), sc(100.0, "a", 400.0)], [1, 3]) == 0
    assert choose([sc(100.0, "", 500.0), sc(100.0, "", 400.0)], [1, 3]) == 0


def test_candidate_grid() -> None:
    grid = candidate_grid(TrainOptions(hysteresis_grid=True))
    assert grid[0] == Candidate("static")
    # The options' hysteresis first (ties go to it), then each of HYSTERESIS_GRID.
    assert HYSTERESIS_GRID == ((5, 15),)
    assert [(c.model, c.horizon, c.min_leaf, c.features, c.hysteresis) for c in grid[1:]] == [
        ("policy-tree", None, leaf, "load", cw) for cw in (None, (5, 15))
        for leaf in (20, 100)]
    # The default grid has the options' hysteresis alone (the axis is --hysteresis-grid).
    assert candidate_grid(TrainOptions()) == grid[:3]
    assert candidate_grid(TrainOptions(model="regressors")) == [
        Candidate("static"), Candidate("regressors", features="load")]
    fixed = candidate_grid(TrainOptions(horizon=3, min_leaf=7, features="all",
                                        model="policy-tree", hysteresis_grid=False))
    assert fixed == [Candidate("static"), Candidate("policy-tree", 3, 7, "all")]
    fast = Candidate("policy-tree", None, 20, "arrivals", (5, 15))
    t = TrainOptions()
    assert (fast.options(t).confirm_steps, fast.options(t).dwell_steps) == (5, 15)
    assert fast.label(t) == "policy-tree H=15 leaf=20 arrivals C=5 W=15"
    assert fast.as_metadata(t) | {} == {
        "confirm_steps": 5, "dwell_steps": 15, "features": "arrivals", "horizon": 15,
        "horizon_offset": 6, "min_leaf": 20, "model": "policy-tree"}
    assert "confirm_steps" not in Candidate("policy-tree", None, 20, "arrivals").as_metadata(t)
    assert candidate_grid(TrainOptions(model="static")) == [Candidate("static")]
    assert candidate_grid(TrainOptions(select="off")) == [
        Candidate("policy-tree", None, 20, "load")]
    assert candidate_grid(TrainOptions(select="off", model="regressors")) == [
        Candidate("regressors", features="all")]


# --- builds on a short synthesized trace --------------------------------------------------


@pytest.fixture(scope="module")
def trace_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 s of mixed traffic: long enough that a policy tree beats the static pair."""
    path = tmp_path_factory.mktemp("sel") / "telemetry.csv"
    synthesize(path, "mixed", duration_s=30.0, seed=4, rate=10_000)
    return path


def build(argv: list[str]) -> None:
    os.environ["SOURCE_DATE_EPOCH"] = "86400"
    try:
        assert main([*argv, "--workers", "1", "--quiet"]) == 0
    finally:
        del os.environ["SOURCE_DATE_EPOCH"]


@pytest.fixture(scope="module")
def built(trace_path: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("built")
    build(["build", str(trace_path), "-o", str(out / "model.reflex"), "--training-set",
           str(out / "training-set.csv")])
    return out / "model.reflex", out / "training-set.csv"


def test_metadata_lists_the_candidates_and_the_winner(built: tuple[Path, Path]) -> None:
    reflex = load(built[0])
    training = reflex.metadata["training"]
    selection = training["selection"]
    grid = candidate_grid(TrainOptions())
    keys = [f"c{i:02d}" for i in range(len(grid))]
    assert sorted(selection["candidates"]) == keys
    assert selection["method"] == "closed-loop"
    assert selection["tolerance"] == SELECT_TOLERANCE
    entries = [selection["candidates"][k] for k in keys]
    for c, entry in zip(grid, entries, strict=True):
        assert entry["model"] == c.model
        for figure in ("mean_j_us", "gap_closed", "switches_per_min", "eligible",
                       "oscillations_max_per_30s", "delta_p95", "leaves", "train_mean_j_us"):
            assert figure in entry
        assert entry["train_mean_j_us"] > 0
        if c.model == "policy-tree":
            confirm, dwell = c.hysteresis or (10, 30)
            assert entry["min_leaf"] == c.min_leaf and entry["features"] == c.features
            assert entry["horizon"] == (dwell if c.horizon is None else c.horizon)
            assert entry["horizon_offset"] == confirm + 1
            if c.hysteresis is not None:
                assert (entry["confirm_steps"], entry["dwell_steps"]) == c.hysteresis
    assert entries[0]["leaves"] == 1
    # The winner follows the documented rule, recomputed from the recorded figures.
    pool = [i for i, e in enumerate(entries) if e["eligible"]]
    assert pool  # this trace has eligible candidates (the test of the fallback is below)
    low = min(entries[i]["mean_j_us"] for i in pool)
    tied = [i for i in pool if entries[i]["mean_j_us"] <= low * (1 + SELECT_TOLERANCE)]
    winner = min(tied, key=lambda i: (entries[i]["leaves"], i))
    assert selection["winner"] == keys[winner]
    assert training["model"] == grid[winner].model
    # The file runs at the winner's hysteresis, and training.stability says so.
    confirm, dwell = grid[winner].hysteresis or (10, 30)
    assert (reflex.confirm_steps, reflex.dwell_steps) == (confirm, dwell)
    assert (training["stability"]["confirm_steps"],
            training["stability"]["dwell_steps"]) == (confirm, dwell)
    assert "hysteresis_grid" not in training["stability"]
    # On this trace a model beats the static pair, and the winner is never worse than the
    # static candidate's replay.
    assert winner != 0
    assert entries[winner]["mean_j_us"] <= entries[0]["mean_j_us"]
    # The file is the winner refitted on all windows (spec/training.md section 10).
    assert selection["refit"] is True
    first, second = reflex.trees
    assert {n.value for n in first if n.is_leaf} <= set(GRID_N)
    assert {n.value for n in second if n.is_leaf} <= set(GRID_D_US)
    if grid[winner].model == "policy-tree":  # one structure in both trees
        assert [(n.feature, n.threshold, n.left, n.right) for n in first] == \
            [(n.feature, n.threshold, n.left, n.right) for n in second]


def test_build_prints_every_candidate_and_marks_the_winner(trace_path: Path, tmp_path: Path,
                                                           capsys) -> None:
    os.environ["SOURCE_DATE_EPOCH"] = "86400"
    try:
        assert main(["build", str(trace_path), "-o", str(tmp_path / "m.reflex"),
                     "--workers", "1", "--min-leaf", "20", "--horizon", "4",
                     "--hysteresis-grid"]) == 0
    finally:
        del os.environ["SOURCE_DATE_EPOCH"]
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if " c0" in line]
    assert len(rows) == 3  # static and the policy tree of these options at both hysteresis
    assert "C=5 W=15" in rows[2]
    marked = [line for line in rows if "*" in line.split("c0")[0]]
    assert len(marked) == 1
    winner = load(tmp_path / "m.reflex").metadata["training"]["selection"]["winner"]
    assert winner in marked[0]
    assert all("%" in line for line in rows)  # gap closed is shown


def test_quiet_build_prints_one_summary_line(trace_path: Path, tmp_path: Path,
                                             capsys) -> None:
    out_path = tmp_path / "q.reflex"
    assert main(["build", str(trace_path), "-o", str(out_path), "--workers", "1",
                 "--min-leaf", "20", "--horizon", "4", "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1, lines
    selection = load(out_path).metadata["training"]["selection"]
    winner = selection["candidates"][selection["winner"]]
    assert lines[0].startswith(f"{out_path}: ")
    noun = "leaf" if winner["leaves"] == 1 else "leaves"
    assert f"({winner['leaves']} {noun})" in lines[0]
    assert f"validation gap closed {100 * winner['gap_closed']:.1f}%" in lines[0]


def test_same_bytes_whatever_the_workers(built: tuple[Path, Path], trace_path: Path,
                                         tmp_path: Path) -> None:
    os.environ["SOURCE_DATE_EPOCH"] = "86400"
    try:
        assert main(["build", str(trace_path), "-o", str(tmp_path / "w2.reflex"),
                     "--workers", "2", "--quiet"]) == 0
    finally:
        del os.environ["SOURCE_DATE_EPOCH"]
    assert (tmp_path / "w2.reflex").read_bytes() == built[0].read_bytes()


def test_train_gives_the_build_bytes_with_the_new_options(trace_path: Path,
                                                          tmp_path: Path) -> None:
    options = ["--model", "policy-tree", "--horizon", "3", "--horizon-agg", "q90",
               "--min-leaf", "10", "--max-depth", "6"]
    build(["build", str(trace_path), "-o", str(tmp_path / "b.reflex"), "--training-set",
           str(tmp_path / "ts.csv"), *options, "--hysteresis-grid"])
    build(["train", str(tmp_path / "ts.csv"), "--telemetry", str(trace_path), "-o",
           str(tmp_path / "t.reflex"), *options, "--hysteresis-grid"])
    assert (tmp_path / "t.reflex").read_bytes() == (tmp_path / "b.reflex").read_bytes()
    reflex = load(tmp_path / "b.reflex")
    stability = reflex.metadata["training"]["stability"]
    assert (stability["horizon"], stability["horizon_agg"], stability["min_leaf"],
            stability["max_depth"], stability["model"]) == (3, "q90", 10, 6, "policy-tree")
    chosen = reflex.metadata["training"]["selection"]["candidates"]
    assert len(chosen) == 3  # static and the one policy tree of these options, twice
    for key in ("c01", "c02"):
        assert chosen[key]["horizon"] == 3 and chosen[key]["min_leaf"] == 10
    assert (chosen["c02"]["confirm_steps"], chosen["c02"]["dwell_steps"]) == (5, 15)
    # Without --hysteresis-grid (the default), or with --confirm-steps: no C/W axis.
    build(["build", str(trace_path), "-o", str(tmp_path / "f.reflex"), *options,
           "--confirm-steps", "10"])
    fixed = load(tmp_path / "f.reflex")
    assert len(fixed.metadata["training"]["selection"]["candidates"]) == 2
    assert (fixed.confirm_steps, fixed.dwell_steps) == (10, 30)


@pytest.mark.parametrize("seconds", [0.25, 1.5])
@pytest.mark.parametrize("model", ["auto", "policy-tree", "cost-regressor", "regressors"])
def test_too_few_windows_for_the_leaf_size_still_builds(seconds: float, model: str,
                                                        tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    trace = tmp_path / "tiny.csv"
    synthesize(trace, "mixed", duration_s=seconds, seed=3)
    out = tmp_path / "tiny.reflex"
    capsys.readouterr()
    build(["build", str(trace), "-o", str(out), "--min-leaf", "100", "--max-depth", "8",
           "--model", model])
    said = capsys.readouterr()
    warned = " ".join(said.err.split())
    if model != "regressors":  # the build says the trees are smaller than asked, even -q
        assert f"{out}: warning: " in warned
        assert "allow at most 1 leaf of 100 windows (--min-leaf), fewer than the 256 of " \
            "depth 8" in warned
    assert len(said.out.splitlines()) == 1  # --quiet: the summary line alone
    reflex = load(out)
    windows = reflex.metadata["windows"]["total"]
    assert windows < 200  # fewer than two leaves of 100
    if model != "regressors":  # regressors have no minimum leaf size
        assert [len(t) for t in reflex.trees] == [1, 1]


def test_train_warns_and_quiets_as_build_does(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """``train`` prints the build's warnings (it printed none) and, with --quiet, one
    summary line (it printed every table)."""
    trace = tmp_path / "tiny.csv"
    synthesize(trace, "mixed", duration_s=1.5, seed=3)
    small = ["--min-leaf", "100", "--max-depth", "8"]
    build(["build", str(trace), "-o", str(tmp_path / "b.reflex"), "--training-set",
           str(tmp_path / "ts.csv"), *small])
    capsys.readouterr()
    out = tmp_path / "t.reflex"
    build(["train", str(tmp_path / "ts.csv"), "--telemetry", str(trace), "-o", str(out),
           *small])
    said = capsys.readouterr()
    assert f"{out}: warning: " in " ".join(said.err.split())
    (line,) = said.out.splitlines()
    assert line.startswith(f"{out}: best static pair (1 leaf), validation gap closed ")
    assert out.read_bytes() == (tmp_path / "b.reflex").read_bytes()


@pytest.mark.parametrize("refit", ["on", "off"])
def test_refit_of_a_static_winner_is_the_best_pair_over_all_windows(refit: str,
                                                                    tmp_path: Path) -> None:
    from reflexforge.config import ForgeOptions
    from reflexforge.labelling import make_training_set
    from reflexforge.telemetry import read_telemetry
    from reflexforge.train import split_by_time

    trace = tmp_path / "t.csv"
    synthesize(trace, "mixed", duration_s=6.0, seed=8, rate=8000)
    _, costs = make_training_set(read_telemetry(trace), ForgeOptions(workers=1))
    n_train = split_by_time(costs.J.shape[0])
    on_all = PAIRS[int(np.argmin(costs.J.mean(axis=0)))]
    on_train = PAIRS[int(np.argmin(costs.J[:n_train].mean(axis=0)))]
    build(["build", str(trace), "-o", str(tmp_path / "m.reflex"), "--model", "static",
           "--refit", refit])
    reflex = load(tmp_path / "m.reflex")
    assert [len(t) for t in reflex.trees] == [1, 1]
    got = (reflex.trees[0][0].value, reflex.trees[1][0].value)
    assert got == (on_all if refit == "on" else on_train)
    assert reflex.metadata["training"]["selection"]["refit"] is (refit == "on")
    assert reflex.metadata["training"]["stability"]["refit"] is (refit == "on")


# --- bad option values --------------------------------------------------------------------


BAD = [
    ["--horizon", "0"], ["--horizon", "601"], ["--horizon", "x"],
    ["--max-depth", "9"], ["--max-depth", "0"],
    ["--min-leaf", "0"], ["--min-leaf", "100001"],
    ["--model", "nope"], ["--select", "maybe"], ["--refit", "yes"],
    ["--horizon-agg", "q100"], ["--horizon-agg", "q0"], ["--horizon-agg", "median"],
    ["--min-flush-threshold", "2"], ["--min-flush-threshold", "0"],
    ["--min-flush-threshold", "x"],
]


@pytest.mark.parametrize("command", ["build", "train"])
@pytest.mark.parametrize("option", BAD, ids=lambda o: " ".join(o))
def test_options_outside_their_ranges_are_one_usage_line(command: str, option: list[str],
                                                         tmp_path: Path, capsys,
                                                         monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["build", "t.csv", "-o", "o.reflex"] if command == "build" else \
        ["train", "ts.csv", "--telemetry", "t.csv", "-o", "o.reflex"]
    with pytest.raises(SystemExit) as info:
        main([*argv, *option])
    assert info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "E_USAGE" in lines[0] and "Traceback" not in lines[0]
    assert option[0] in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_with_no_eligible_candidate_the_static_pair_wins_and_build_warns(
        trace_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Against an incumbent of (32, 50 µs) every candidate raises p95 on this trace's
    validation span (it has the lowest p95 of the grid there): none is eligible,
    so the simplest candidate, the static pair, wins whatever the trees' mean J, and build
    says so on stderr (spec/training.md section 10, "Winner")."""
    out = tmp_path / "none.reflex"
    capsys.readouterr()
    build(["build", str(trace_path), "-o", str(out), "--incumbent", "32,50us", "--min-leaf",
           "20", "--horizon", "4"])
    said = capsys.readouterr()
    selection = load(out).metadata["training"]["selection"]
    entries = selection["candidates"]
    assert not any(e["eligible"] for e in entries.values())
    assert selection["winner"] == "c00" and entries["c00"]["model"] == "static"
    assert f"{out}: warning: no candidate passes the gate's checks" in " ".join(said.err.split())
    # the winner is not the lowest mean J here: the rule, not the figures, chose it
    assert min(e["mean_j_us"] for e in entries.values()) < entries["c00"]["mean_j_us"]


@pytest.mark.parametrize("fixed", [["--confirm-steps", "5"], ["--dwell-steps", "15"],
                                   ["--plain"]])
def test_hysteresis_grid_with_a_fixed_hysteresis_is_one_usage_line(
        fixed: list[str], trace_path: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o.reflex"
    assert main(["build", str(trace_path), "-o", str(out), "--hysteresis-grid", *fixed]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "E_USAGE" in lines[0] and "--hysteresis-grid" in lines[0]
    assert fixed[0] in lines[0]
    assert not out.exists()
