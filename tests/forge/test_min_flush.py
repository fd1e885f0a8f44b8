"""--min-flush-threshold (spec/training.md section 6.3): no leaf, no static pair and no
runtime decision below it."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest

from reflexfmt import load
from reflexforge.candidates import EXCLUDED_COST, allowed_costs
from reflexforge.cli import main
from reflexforge.config import PAIRS
from reflexforge.errors import ForgeError
from reflexforge.synth import synthesize
from reflexforge.train import TrainOptions


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 s of sparse Poisson traffic, where a flush per packet, (1, 50 µs), is best."""
    path = tmp_path_factory.mktemp("quiet") / "telemetry.csv"
    synthesize(path, "poisson", duration_s=30.0, seed=5, rate=300)
    return path


def _build(trace: Path, out: Path, *options: str) -> None:
    os.environ["SOURCE_DATE_EPOCH"] = "86400"
    try:
        assert main(["build", str(trace), "-o", str(out), "--workers", "1", "--quiet",
                     *options]) == 0
    finally:
        del os.environ["SOURCE_DATE_EPOCH"]


def test_excluded_pairs_cost_more_than_any_real_one() -> None:
    costs = np.arange(48.0).reshape(2, 24)
    assert allowed_costs(costs, TrainOptions()) is costs
    got = allowed_costs(costs, TrainOptions(min_flush_threshold=8))
    low = [p for p, (n, _d) in enumerate(PAIRS) if n < 8]
    assert len(low) == 8 and np.all(got[:, low] == EXCLUDED_COST)
    keep = [p for p in range(24) if p not in low]
    assert np.array_equal(got[:, keep], costs[:, keep]) and costs[0, 0] == 0.0


@pytest.mark.parametrize("value", [0, 2, 128, True, "4"])
def test_a_value_off_the_grid_is_a_usage_error(value) -> None:
    with pytest.raises(ForgeError) as info:
        TrainOptions(min_flush_threshold=value)
    assert info.value.code == "E_USAGE" and "minimum flush threshold" in info.value.message


def test_the_option_moves_the_pair_off_a_flush_per_packet(quiet: Path, tmp_path: Path) -> None:
    """On quiet traffic the default reflex flushes every packet; with the option, neither a
    leaf nor the runtime's clamp ever gives less than 4, and the file says so."""
    _build(quiet, tmp_path / "default.reflex")
    default = load(tmp_path / "default.reflex")
    assert min(node.value for node in default.trees[0] if node.is_leaf) == 1
    assert default.bounds[0].min == 1
    assert default.metadata["training"]["stability"]["min_flush_threshold"] == 1

    _build(quiet, tmp_path / "four.reflex", "--min-flush-threshold", "4")
    four = load(tmp_path / "four.reflex")
    assert (four.bounds[0].min, four.bounds[0].max) == (4, 64)
    assert four.metadata["training"]["stability"]["min_flush_threshold"] == 4
    assert min(node.value for node in four.trees[0] if node.is_leaf) >= 4
    rng = random.Random(1)
    for _ in range(200):  # whatever the features, the runtime's output is at least 4
        row = [rng.uniform(-1e6, 1e9) for _ in range(10)]
        assert four.evaluate(row)[0] >= 4


def test_a_static_build_takes_the_best_allowed_pair(quiet: Path, tmp_path: Path) -> None:
    _build(quiet, tmp_path / "s.reflex", "--model", "static", "--min-flush-threshold", "64")
    reflex = load(tmp_path / "s.reflex")
    assert [len(t) for t in reflex.trees] == [1, 1] and reflex.trees[0][0].value == 64
