"""--augment (spec/training.md section 6.4): training also on copies of each trace at F times
its packet rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reflexfmt import load
from reflexforge.augment import rate_copy
from reflexforge.cli import main
from reflexforge.errors import ForgeError
from reflexforge.synth import synthesize
from reflexforge.telemetry import read_telemetry
from reflexforge.trace import Trace
from reflexforge.train import TrainOptions


@pytest.fixture(scope="module")
def bursty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 s of on/off traffic: regimes a tree can split."""
    path = tmp_path_factory.mktemp("bursty") / "telemetry.csv"
    synthesize(path, "onoff", duration_s=40.0, seed=3)
    return path


def _build(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "86400")
    return main(["build", *args, "--workers", "1", "--quiet"])


def test_a_rate_copy_divides_the_time_since_the_first_arrival() -> None:
    ts = np.array([1_000, 1_001, 1_003, 401_000_000, 801_000_001], dtype=np.int64)
    size = np.array([60, 70, 80, 90, 100], dtype=np.uint16)
    trace = Trace(ts, size, rtt_samples=(np.array([1, 4]), np.array([500, 700])),
                  sha1="ab", path="t.csv")
    copy = rate_copy(trace, 2)
    assert copy.ts_ns.tolist() == [1_000, 1_000, 1_001, 200_500_500, 400_500_500]
    assert copy.size is trace.size and copy.rows == trace.rows
    assert [a.tolist() for a in copy.rtt_samples] == [[1, 4], [500, 700]]
    assert rate_copy(trace, 4).rows == 5  # 200.25 ms from the first to the last: one window
    assert rate_copy(trace, 5) is None  # 160 ms: no complete window
    assert rate_copy(Trace(ts[:0], size[:0], rtt_samples=(ts[:0], ts[:0])), 2) is None


def test_the_copy_joins_the_trees_fit_only(
        bursty: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--augment 2`` fits the trees as a build from the trace and its copy written as a
    second telemetry file does (section 9); the static pair, the windows and the figures
    stay the trace's own; the metadata records the factors."""
    trace = read_telemetry(bursty)
    copy = rate_copy(trace, 2)
    second = tmp_path / "x2.csv"
    rows = np.stack((copy.ts_ns, copy.size.astype(np.int64), copy.rtt_ns), axis=1)
    lines = [f"{t},{b},{'' if r < 0 else r}" for t, b, r in rows.tolist()]
    second.write_text("ts_ns,bytes,rtt_ns\n" + "\n".join(lines) + "\n")
    tree = ["--select", "off", "--model", "policy-tree"]
    for name, files, options in (("a", [bursty], ["--augment", "2", *tree]),
                                 ("f", [bursty, second], ["--augment", "off", *tree]),
                                 ("n", [bursty], ["--augment", "off", *tree]),
                                 ("sa", [bursty], ["--augment", "2", "--select", "off",
                                                   "--model", "static"]),
                                 ("sn", [bursty], ["--augment", "off", "--select", "off",
                                                   "--model", "static"])):
        assert _build(monkeypatch, *map(str, files), "-o", str(tmp_path / f"{name}.reflex"),
                      *options) == 0
    augmented, files2, plain, static_a, static_n = (
        load(tmp_path / f"{n}.reflex") for n in ("a", "f", "n", "sa", "sn"))
    assert augmented.trees == files2.trees and augmented.scaling == files2.scaling
    assert augmented.trees != plain.trees  # the copy changed the fit
    assert augmented.metadata["training"]["stability"]["augment"] == [2]
    assert plain.metadata["training"]["stability"]["augment"] == []
    assert augmented.metadata["windows"] == plain.metadata["windows"] \
        != files2.metadata["windows"]
    assert static_a.trees == static_n.trees  # the static pair is the trace's own


def test_augment_out_of_range_is_one_usage_line(
        bursty: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ("1", "17", "2,2", "two", "", "2,"):
        with pytest.raises(SystemExit) as info:
            _build(monkeypatch, str(bursty), "-o", str(tmp_path / "m.reflex"), "--augment", bad)
        assert info.value.code == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "E_USAGE" in err and "--augment" in err
    assert not (tmp_path / "m.reflex").exists()
    for value in ((1,), (2, 2), [2], (True,)):
        with pytest.raises(ForgeError) as info:
            TrainOptions(augment=value)
        assert info.value.code == "E_USAGE"


def test_a_trace_too_short_for_a_copy_still_builds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A trace whose copy would hold no complete window trains on itself alone (its two
    windows; the copy, 175 ms long, has none)."""
    path = tmp_path / "short.csv"
    synthesize(path, "poisson", duration_s=0.35, seed=2, rate=2000)
    assert rate_copy(read_telemetry(path), 2) is None
    assert _build(monkeypatch, str(path), "-o", str(tmp_path / "s.reflex"),
                  "--augment", "2", "--select", "off") == 0
    meta = load(tmp_path / "s.reflex").metadata
    assert meta["windows"]["total"] == 2
    assert meta["training"]["stability"]["augment"] == [2]


def test_train_with_augment_gives_the_build_bytes(
        bursty: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``train`` re-reads the telemetry, so it makes the same copies: the same bytes as
    ``build --augment 2``, whatever the workers."""
    model, training_set = tmp_path / "b.reflex", tmp_path / "ts.csv"
    assert _build(monkeypatch, str(bursty), "-o", str(model), "--augment", "2",
                  "--training-set", str(training_set)) == 0
    trained = tmp_path / "t.reflex"
    assert main(["train", str(training_set), "--telemetry", str(bursty), "-o", str(trained),
                 "--workers", "2", "--quiet", "--augment", "2"]) == 0
    assert trained.read_bytes() == model.read_bytes()


def _selection(path: Path) -> dict:
    return load(path).metadata["training"]["selection"]


def _with_and_without_copies(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, profile: str,
                             seed: int) -> tuple[dict, dict]:
    """The selection metadata of 40 s of ``profile`` built with the default ``--augment 2``
    (a.reflex) and with ``--augment off`` (n.reflex)."""
    path = tmp_path / f"{profile}.csv"
    synthesize(path, profile, duration_s=40.0, seed=seed)
    assert _build(monkeypatch, str(path), "-o", str(tmp_path / "a.reflex")) == 0
    assert _build(monkeypatch, str(path), "-o", str(tmp_path / "n.reflex"),
                  "--augment", "off") == 0
    return _selection(tmp_path / "a.reflex"), _selection(tmp_path / "n.reflex")


def test_when_the_static_pair_wins_the_trees_without_copies_are_candidates_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Section 10: on this ramp the trees fitted with the copy lose to the static pair on
    the validation span; the same trees fitted without it are added (c03, c04), judged on
    the same span, and one of them wins. They are the trees of ``--augment off``: same
    figures, and the file holds the same trees."""
    augmented, plain = _with_and_without_copies(monkeypatch, tmp_path, "ramp", 6)
    cands = augmented["candidates"]
    assert list(cands) == ["c00", "c01", "c02", "c03", "c04"]
    assert augmented["winner"] == "c03" and plain["winner"] == "c01"
    for key in ("c01", "c02"):  # the trees with the copy: eligible or not, no better
        assert "augment" not in cands[key]
        assert not (cands[key]["eligible"]
                    and cands[key]["mean_j_us"] * 1.005 < cands["c00"]["mean_j_us"])
    for with_copies, without in (("c03", "c01"), ("c04", "c02")):
        assert cands[with_copies] == plain["candidates"][without] | {"augment": []}
    assert cands["c00"] == plain["candidates"]["c00"]
    assert load(tmp_path / "a.reflex").trees == load(tmp_path / "n.reflex").trees


def test_when_a_tree_with_the_copies_wins_no_candidate_is_added(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mixed.csv"
    synthesize(path, "mixed", duration_s=40.0, seed=2)
    assert _build(monkeypatch, str(path), "-o", str(tmp_path / "a.reflex")) == 0
    selection = _selection(tmp_path / "a.reflex")
    assert selection["winner"] == "c01" and list(selection["candidates"]) == ["c00", "c01", "c02"]


def test_one_leaf_trees_without_copies_are_not_added(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On this on/off trace the static pair wins and the trees fitted without the copy have
    one leaf each (as with ``--augment off``): a static pair, which c00 stands for, so the
    build adds nothing."""
    augmented, plain = _with_and_without_copies(monkeypatch, tmp_path, "onoff", 1)
    assert augmented["winner"] == plain["winner"] == "c00"
    assert [c["leaves"] for c in plain["candidates"].values()] == [1, 1, 1]
    assert list(augmented["candidates"]) == ["c00", "c01", "c02"]
