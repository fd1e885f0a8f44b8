"""End-to-end build and train on a short synthetic trace: bytes, metadata, determinism, errors."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from reflexfmt import dumps, load, loads
from reflexforge.cli import main
from reflexforge.config import ForgeOptions
from reflexforge.errors import ForgeError
from reflexforge.oracle import OracleCosts
from reflexforge.pipeline import build_reflex, reflex_from_costs
from reflexforge.provenance import created_at
from reflexforge.synth import synthesize
from reflexforge.telemetry import read_telemetry
from reflexforge.train import PLAIN, TrainOptions

REQUIRED = ("created_at", "feature_schema", "lambda", "telemetry_hash", "trainer_commit")


@pytest.fixture(scope="module")
def trace_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("trace") / "telemetry.csv"
    synthesize(path, "mixed", duration_s=8.0, seed=3)
    return path


@pytest.fixture(autouse=True)
def _epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "86400")


@pytest.fixture(scope="module")
def built(trace_path: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("built")
    os.environ["SOURCE_DATE_EPOCH"] = "86400"
    try:
        code = main(["build", str(trace_path), "-o", str(out / "model.reflex"),
                     "--training-set", str(out / "training-set.csv"), "--workers", "1",
                     "--quiet"])
    finally:
        del os.environ["SOURCE_DATE_EPOCH"]
    assert code == 0
    return out / "model.reflex", out / "training-set.csv"


def test_build_passes_reflex_inspect_verify(built: tuple[Path, Path]) -> None:
    model, _ = built
    done = subprocess.run([sys.executable, "-m", "reflexfmt.cli_inspect", "--verify",
                           str(model)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_metadata_keys_and_values(built: tuple[Path, Path], trace_path: Path) -> None:
    reflex = load(built[0])
    meta = reflex.metadata
    for key in REQUIRED + ("oracle", "training", "validation", "windows"):
        assert key in meta
    assert meta["created_at"] == "1970-01-02T00:00:00Z"
    assert meta["telemetry_hash"] == hashlib.sha1(trace_path.read_bytes()).hexdigest()
    assert meta["trainer_commit"].startswith("reflexforge@")
    assert meta["feature_schema"] == "v1" and meta["lambda"] == 0.1
    assert meta["oracle"] == {
        "flush_cost_ns": 5000, "grid_d_us": [50, 200, 1000, 4000],
        "grid_n": [1, 4, 8, 16, 32, 64], "incumbent": [16, 1000], "lambda": 0.1,
        "link_bps": 10**10, "step_ns": 100_000_000, "window_ns": 200_000_000,
    }
    windows = meta["windows"]
    assert windows["train"] + windows["validation"] == windows["total"]
    assert windows["train"] == (4 * windows["total"]) // 5
    stability = meta["training"]["stability"]
    assert stability == TrainOptions().as_metadata()
    assert (reflex.confirm_steps, reflex.dwell_steps) == (stability["confirm_steps"],
                                                          stability["dwell_steps"])
    for who in ("model", "static", "model_train"):
        figures = meta["validation"][who]
        assert 0 <= figures["exact_match"] <= 1 and figures["mean_regret_us"] >= 0
    assert reflex.q_scale == 32767
    assert [(b.min, b.max) for b in reflex.bounds] == [(1, 64), (50, 4000)]


def test_same_bytes_whatever_the_workers(trace_path: Path) -> None:
    trace = read_telemetry(trace_path)
    one, _ = build_reflex(trace, ForgeOptions(workers=1))
    two, _ = build_reflex(trace, ForgeOptions(workers=2))
    assert dumps(one) == dumps(two)


def test_train_from_training_set_gives_the_build_bytes(
        built: tuple[Path, Path], trace_path: Path, tmp_path: Path) -> None:
    model, training_set = built
    out = tmp_path / "trained.reflex"
    assert main(["train", str(training_set), "--telemetry", str(trace_path), "-o", str(out),
                 "--workers", "1", "--quiet"]) == 0
    assert out.read_bytes() == model.read_bytes()


def test_stability_flags_reach_header_and_metadata(trace_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "plain.reflex"
    assert main(["build", str(trace_path), "-o", str(out), "--plain", "--dwell-steps", "3",
                 "--workers", "1", "--quiet"]) == 0
    reflex = load(out)
    assert (reflex.confirm_steps, reflex.dwell_steps) == (1, 3)
    stability = reflex.metadata["training"]["stability"]
    assert stability["label_target"] == "current" and stability["switch_cost_us"] == 0.0
    assert stability["dwell_steps"] == 3
    assert reflex.metadata["validation"]["label_switches_trained"] == \
        reflex.metadata["validation"]["label_switches_plain"]


def test_constant_feature_is_written_as_lo_equal_hi() -> None:
    rng = np.random.default_rng(0)
    n = 200
    x = rng.uniform(0, 100, (n, 10))
    x[:, 3] = 42.0
    costs = rng.uniform(10, 20, (n, 24))
    costs[x[:, 0] > 50, 7] = 1.0
    costs[x[:, 0] <= 50, 0] = 1.0
    starts = np.arange(n, dtype=np.int64) * 100_000_000
    reflex, report = reflex_from_costs(starts, x, OracleCosts(costs, costs, costs.astype(int)),
                                       "0" * 40, ForgeOptions(), replace(PLAIN, features="all"))
    assert (reflex.scaling[3].lo, reflex.scaling[3].hi) == (42.0, 42.0)
    assert all(node.feature != 3 for tree in reflex.trees for node in tree)
    assert loads(dumps(reflex)) == reflex
    assert report.model.exact_match == 1.0


def test_created_at_honours_source_date_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert created_at() == "2023-11-14T22:13:20Z"
    for bad in ("soon", "-1", "253402300800"):
        monkeypatch.setenv("SOURCE_DATE_EPOCH", bad)
        with pytest.raises(ForgeError, match="SOURCE_DATE_EPOCH"):
            created_at()


def _fails(argv: list[str], capsys: pytest.CaptureFixture[str], code: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and code in err and "Traceback" not in err


def test_unwritable_output_path(trace_path: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "missing" / "model.reflex"
    _fails(["build", str(trace_path), "-o", str(out), "--quiet"], capsys, "E_IO")
    assert not out.exists()
    _fails(["build", str(trace_path), "-o", str(tmp_path), "--quiet"], capsys, "E_IO")


def test_bad_training_set(trace_path: Path, tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "training-set.csv"
    bad.write_text("window_start_ns,queue_depth\n1,2\n")
    out = tmp_path / "model.reflex"
    _fails(["train", str(bad), "--telemetry", str(trace_path), "-o", str(out), "--quiet"],
           capsys, "E_TRAINSET")
    assert not out.exists()


def test_training_set_of_other_telemetry(built: tuple[Path, Path], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other.csv"
    synthesize(other, "poisson", duration_s=3.0, seed=9)
    out = tmp_path / "model.reflex"
    _fails(["train", str(built[1]), "--telemetry", str(other), "-o", str(out), "--quiet",
            "--workers", "1"], capsys, "E_TRAINSET")
    assert not out.exists()


def test_training_set_labelled_with_other_lambda(built: tuple[Path, Path], trace_path: Path,
                                                 tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "model.reflex"
    _fails(["train", str(built[1]), "--telemetry", str(trace_path), "-o", str(out),
            "--lambda", "50", "--quiet", "--workers", "1"], capsys, "E_TRAINSET")
    assert not out.exists()


def test_non_finite_costs_are_a_training_set_error() -> None:
    rng = np.random.default_rng(1)
    n = 20
    x = rng.uniform(0, 100, (n, 10))
    costs = rng.uniform(10, 20, (n, 24))
    costs[5, 3] = np.inf
    starts = np.arange(n, dtype=np.int64) * 100_000_000
    with pytest.raises(ForgeError, match=r"non-finite J\[5, 3\]") as info:
        reflex_from_costs(starts, x, OracleCosts(costs, costs, np.zeros((n, 24), dtype=int)),
                          "0" * 40, ForgeOptions(), PLAIN)
    assert info.value.code == "E_TRAINSET"


@pytest.mark.parametrize("lam", [-1.0, 1e6 + 1, float("inf"), float("nan")])
def test_lambda_out_of_range_is_usage(lam: float) -> None:
    with pytest.raises(ForgeError) as info:
        ForgeOptions(lam=lam)
    assert info.value.code == "E_USAGE"
    assert ForgeOptions(lam=1e6).lam == 1e6


def test_training_set_labelled_with_other_incumbent(built: tuple[Path, Path], trace_path: Path,
                                                    tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "model.reflex"
    assert main(["train", str(built[1]), "--telemetry", str(trace_path), "-o", str(out),
                 "--incumbent", "4,200us", "--quiet", "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "E_TRAINSET" in err
    assert f"{built[1]}:2:" in err  # the first window already differs
    assert not out.exists()


def test_edited_feature_is_rejected_with_line_and_column(
        built: tuple[Path, Path], trace_path: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    lines = built[1].read_text().split("\n")
    fields = lines[5].split(",")
    fields[4] = repr(float(fields[4]) + 1.0)  # latency_p50 of the 4th window
    lines[5] = ",".join(fields)
    edited = tmp_path / "edited.csv"
    edited.write_text("\n".join(lines))
    out = tmp_path / "model.reflex"
    assert main(["train", str(edited), "--telemetry", str(trace_path), "-o", str(out),
                 "--quiet", "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{edited}:6:latency_p50: E_TRAINSET" in err
    assert not out.exists()


def test_dagger_round_one_doubles_the_rows_with_the_reflex_s_own_features(
        trace_path: Path) -> None:
    from reflexforge.candidates import (
        FileWindows,
        closed_loop_features,
        fit_regressors,
        runtime_reflex,
        with_dagger,
    )
    from reflexforge.label_smoothing import training_labels
    from reflexforge.labelling import make_training_set
    from reflexforge.train import split_by_time

    trace = read_telemetry(trace_path)
    opts = ForgeOptions(workers=1)
    tset, costs = make_training_set(trace, opts)
    n_train = split_by_time(len(tset))
    starts, x = tset.window_start_ns[:n_train], tset.X[:n_train]
    base = TrainOptions(model="regressors", select="off", augment=())  # the trace alone
    labels = training_labels(costs.J, tset.window_start_ns, base.label_target,
                             base.switch_cost_us)
    files = [FileWindows(tset.window_start_ns, tset.X, costs.J, n_train, labels, trace)]
    rows: list[tuple[np.ndarray, np.ndarray]] = []

    def fit(x_rows: np.ndarray, y: np.ndarray):
        rows.append((x_rows, y))
        return fit_regressors(x_rows, y, base, "all")

    round0 = with_dagger(labels[:n_train], fit, files, opts, base)
    round1 = with_dagger(labels[:n_train], fit, files, opts, replace(base, dagger_rounds=1))
    assert [r[0].shape for r in rows] == [(n_train, 10), (n_train, 10), (2 * n_train, 10)]
    x1, y1 = rows[-1]
    assert np.array_equal(x1[:n_train], x)
    assert np.array_equal(y1, np.concatenate((labels[:n_train], labels[:n_train])))
    seen = closed_loop_features(trace, runtime_reflex(round0.lo, round0.hi, round0.trees, base,
                                                      {}), opts, starts)
    assert np.array_equal(x1[n_train:], seen)
    assert not np.array_equal(seen, x)  # the reflex leaves the incumbent: other features
    assert np.array_equal(round1.lo, np.minimum(x.min(axis=0), seen.min(axis=0)))
    assert np.array_equal(round1.hi, np.maximum(x.max(axis=0), seen.max(axis=0)))
    reflex, report = build_reflex(trace, opts, replace(base, dagger_rounds=1))
    assert [(s.lo, s.hi) for s in reflex.scaling] == \
        [(float(a), float(b)) for a, b in zip(round1.lo, round1.hi, strict=True)]
    assert report.training_rows == 2 * n_train
    assert reflex.metadata["training"]["stability"]["dagger_rounds"] == 1


def test_dagger_same_bytes_whatever_the_workers(trace_path: Path) -> None:
    trace = read_telemetry(trace_path)
    two_rounds = TrainOptions(dagger_rounds=2, select="off", augment=())  # a tree, DAgger
    one, report = build_reflex(trace, ForgeOptions(workers=1), two_rounds)
    two, _ = build_reflex(trace, ForgeOptions(workers=2), two_rounds)
    assert dumps(one) == dumps(two)
    assert report.training_rows == 3 * report.train_windows


def test_dagger_flag_and_train_command(built: tuple[Path, Path], trace_path: Path,
                                       tmp_path: Path) -> None:
    _, training_set = built
    out, trained = tmp_path / "dagger.reflex", tmp_path / "dagger-trained.reflex"
    assert main(["build", str(trace_path), "-o", str(out), "--dagger-rounds", "1",
                 "--workers", "1", "--quiet"]) == 0
    assert main(["train", str(training_set), "--telemetry", str(trace_path), "-o",
                 str(trained), "--dagger-rounds", "1", "--workers", "1", "--quiet"]) == 0
    assert trained.read_bytes() == out.read_bytes()
    assert load(out).metadata["training"]["stability"]["dagger_rounds"] == 1
    with pytest.raises(SystemExit):
        main(["build", str(trace_path), "-o", str(out), "--dagger-rounds", "21", "--quiet"])
    with pytest.raises(ForgeError, match="DAgger"):
        TrainOptions(dagger_rounds=-1)


@pytest.mark.parametrize("features", ["arrivals", "load"])
def test_a_feature_set_splits_only_on_its_features(features: str, tmp_path: Path) -> None:
    from reflexforge.train import FEATURE_SETS

    trace_path = tmp_path / "40s.csv"  # long enough for both trees to split
    synthesize(trace_path, "mixed", duration_s=40.0, seed=1)
    trace = read_telemetry(trace_path)
    regressors = TrainOptions(model="regressors", select="off")
    every, _ = build_reflex(trace, ForgeOptions(workers=1), regressors)
    arrivals, _ = build_reflex(trace, ForgeOptions(workers=1),
                               replace(regressors, features=features))
    used = {n.feature for t in arrivals.trees for n in t if not n.is_leaf}
    used_every = {n.feature for t in every.trees for n in t if not n.is_leaf}
    assert used and used <= set(FEATURE_SETS[features])
    assert used_every - set(FEATURE_SETS[features])  # the default does use the others
    assert arrivals.scaling == every.scaling  # all ten features stay scaled
    assert arrivals.metadata["training"]["stability"]["features"] == features
    assert every.metadata["training"]["stability"]["features"] is None
    assert every.metadata["training"]["selection"]["candidates"]["c00"]["features"] == "all"
    out = tmp_path / "arrivals.reflex"
    assert main(["build", str(trace_path), "-o", str(out), "--features", features,
                 "--model", "regressors", "--select", "off", "--workers", "1", "--quiet"]) == 0
    assert out.read_bytes() == dumps(arrivals)
    with pytest.raises(ForgeError, match="feature set"):
        TrainOptions(features="latency")


def test_several_telemetry_files_train_one_reflex(trace_path: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from reflexforge.labelling import make_training_set
    from reflexforge.train import split_by_time

    other = tmp_path / "other.csv.gz"
    synthesize(other, "onoff", duration_s=6.0, seed=5)
    out = tmp_path / "both.reflex"
    alone = ["--augment", "off"]  # the given files only (section 9 without 6.4)
    assert main(["build", str(trace_path), str(other), "-o", str(out), "--workers", "1",
                 "--quiet", *alone]) == 0
    meta = load(out).metadata
    a, b = trace_path.read_bytes(), other.read_bytes()
    assert meta["telemetry_hash"] == hashlib.sha1(a + b).hexdigest()
    assert meta["telemetry_files"] == [hashlib.sha1(a).hexdigest(), hashlib.sha1(b).hexdigest()]
    # Windows, split and labels are per file: the 80/20 split is taken in each trace.
    counts = [len(make_training_set(read_telemetry(p), ForgeOptions(workers=1))[0])
              for p in (trace_path, other)]
    assert meta["windows"] == {"total": sum(counts),
                               "train": sum(split_by_time(n) for n in counts),
                               "validation": sum(n - split_by_time(n) for n in counts)}
    # Byte-identical whatever the number of workers; one file alone lists no files.
    again = tmp_path / "again.reflex"
    assert main(["build", str(trace_path), str(other), "-o", str(again), "--workers", "2",
                 "--quiet", *alone]) == 0
    assert again.read_bytes() == out.read_bytes()
    single = tmp_path / "single.reflex"
    assert main(["build", str(trace_path), "-o", str(single), "--workers", "1", "--quiet"]) == 0
    assert "telemetry_files" not in load(single).metadata
    # DAgger replays each file on its own.
    traces = [read_telemetry(trace_path), read_telemetry(other)]
    _, report = build_reflex(traces, ForgeOptions(workers=1),
                             TrainOptions(dagger_rounds=1, select="off", augment=()),
                             telemetry_sha1=meta["telemetry_hash"])
    assert report.training_rows == 2 * report.train_windows == 2 * meta["windows"]["train"]
    # A training set describes one trace.
    capsys.readouterr()
    assert main(["build", str(trace_path), str(other), "-o", str(tmp_path / "x.reflex"),
                 "--training-set", str(tmp_path / "x.csv"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "E_USAGE: --training-set needs a single TELEMETRY" in err
    assert not (tmp_path / "x.reflex").exists() and not (tmp_path / "x.csv").exists()


def test_an_edited_training_set_names_the_column_edited(
        built: tuple[Path, Path], trace_path: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    # Only max_batch_delay_us edited on a row was reported at flush_threshold; a row removed
    # at the end had no line.
    lines = built[1].read_text().splitlines()
    header = lines[0].split(",")
    out = tmp_path / "model.reflex"
    for column in ("max_batch_delay_us", "J", "flush_threshold"):
        at = header.index(column)
        row = lines[3].split(",")
        row[at] = {"max_batch_delay_us": "4000" if row[at] != "4000" else "50",
                   "J": "1.5", "flush_threshold": "1" if row[at] != "1" else "64"}[column]
        edited = tmp_path / f"{column}.csv"
        edited.write_text("\n".join([*lines[:3], ",".join(row), *lines[4:]]) + "\n")
        assert main(["train", str(edited), "--telemetry", str(trace_path), "-o", str(out),
                     "--quiet", "--workers", "1"]) == 2
        what = "J" if column == "J" else "label"
        assert f"{column}.csv:4:{column}: E_TRAINSET: {what} differs from the oracle's" \
            in capsys.readouterr().err
        assert not out.exists()
    cut = tmp_path / "cut.csv"
    cut.write_text("\n".join(lines[:-1]) + "\n")
    assert main(["train", str(cut), "--telemetry", str(trace_path), "-o", str(out), "--quiet",
                 "--workers", "1"]) == 2
    assert f"cut.csv:{len(lines) - 1}: E_TRAINSET: " in capsys.readouterr().err
