"""Grid training and int16 export: the routing proof, preorder, leaves, labels, the split."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reflexfmt import LEAF, FeatureScale, OutputBounds, Reflex
from reflexforge.config import STEP_NS
from reflexforge.label_smoothing import count_switches, target_costs, training_labels, viterbi
from reflexforge.quantize import Q_SCALE
from reflexforge.train import (
    TrainOptions,
    evaluate_grid_rows,
    export_tree,
    fit_tree,
    grid_threshold,
    leaf_output,
    split_by_time,
)

N = (1, 4, 8, 16, 32, 64)
D = (50, 200, 1000, 4000)
GRID = np.arange(Q_SCALE + 1, dtype=np.int64)


def _grid_data(seed: int, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """Grid values with odd gaps (so thresholds are .5 midpoints) and labels that depend on them."""
    rng = np.random.default_rng(seed)
    q = np.empty((n, 10), dtype=np.int64)
    q[:, :5] = rng.integers(0, Q_SCALE + 1, (n, 5))
    q[:, 5:] = rng.integers(0, 40, (n, 5)) * rng.integers(1, 800, (1, 5))
    q = np.minimum(q, Q_SCALE)
    score = q[:, 0] / Q_SCALE + (q[:, 6] > 9000) + rng.normal(0, 0.2, n)
    labels = np.array(N)[np.clip((score * 3).astype(int), 0, 5)]
    return q, labels


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("target", ["log2", "linear"])
def test_int_rule_routes_every_grid_value_like_sklearn(seed: int, target: str) -> None:
    q, labels = _grid_data(seed)
    model = fit_tree(q, labels, target)
    tree = model.tree_
    internal = [i for i in range(tree.node_count) if tree.children_left[i] != -1]
    assert internal
    fractional = 0
    for i in internal:
        thr = float(tree.threshold[i])
        t = grid_threshold(thr)
        fractional += thr != t
        assert -32768 <= t <= 32767
        sklearn_left = GRID.astype(np.float32) <= thr  # sklearn's own rule: float32 x <= t
        assert np.array_equal(GRID <= t, sklearn_left), f"node {i} threshold {thr}"
    assert fractional  # midpoint thresholds such as 8191.5 occur, so floor matters


def test_floor_not_round_or_truncation() -> None:
    assert grid_threshold(7.5) == 7
    assert grid_threshold(-0.5) == -1
    assert grid_threshold(3.0) == 3


@pytest.mark.parametrize("target", ["log2", "linear"])
def test_exported_tree_matches_sklearn_prediction_on_all_rows(target: str) -> None:
    q, labels = _grid_data(7)
    model = fit_tree(q, labels, target)
    nodes = export_tree(model, target, N, (1, 64))
    want = [leaf_output(float(v), target, N, (1, 64))
            for v in model.predict(q.astype(np.float32))]
    assert evaluate_grid_rows(nodes, q, (1, 64)).tolist() == want


def test_export_is_preorder_with_children_after_parents() -> None:
    q, labels = _grid_data(3)
    nodes = export_tree(fit_tree(q, labels, "log2"), "log2", N, (1, 64))
    assert 1 <= len(nodes) <= 31
    seen = [0] * len(nodes)
    for i, node in enumerate(nodes):
        if node.feature == LEAF:
            assert node.value in N and (node.threshold, node.left, node.right) == (0, 0, 0)
        else:
            assert i < node.left < node.right < len(nodes)
            assert node.left == i + 1  # preorder: the left subtree follows at once
            seen[node.left] += 1
            seen[node.right] += 1
    assert seen == [0] + [1] * (len(nodes) - 1)


def test_equal_sibling_leaves_collapse() -> None:
    q = np.zeros((8, 10), dtype=np.int64)
    q[:, 0] = np.arange(8)
    labels = np.array([1, 1, 1, 1, 4, 4, 4, 5])  # 5 and 4 both snap to 4
    nodes = export_tree(fit_tree(q, labels, "linear"), "linear", N, (1, 64))
    assert evaluate_grid_rows(nodes, q, (1, 64)).tolist() == [1, 1, 1, 1, 4, 4, 4, 4]
    assert len(nodes) == 3


def test_evaluate_tree_equals_reflexfmt() -> None:
    q, labels = _grid_data(5)
    trees = (export_tree(fit_tree(q, labels, "log2"), "log2", N, (1, 64)),
             export_tree(fit_tree(q, labels * 50, "log2"), "log2", D, (50, 4000)))
    reflex = Reflex(
        scaling=tuple(FeatureScale(0.0, float(Q_SCALE)) for _ in range(10)),
        trees=trees, bounds=(OutputBounds(1, 64), OutputBounds(50, 4000)), metadata={},
    )
    got = np.stack([evaluate_grid_rows(trees[0], q, (1, 64)),
                    evaluate_grid_rows(trees[1], q, (50, 4000))])
    # with lo = 0 and hi = Q, grid value g quantizes back to g
    want = np.array([reflex.evaluate([float(v) for v in row]) for row in q[:300]]).T
    assert np.array_equal(got[:, :300], want)


def test_leaf_output_snaps_in_log_space_and_clamps() -> None:
    assert leaf_output(1.0, "log2", N, (1, 64)) == 1  # 2**1 = 2 ties between 1 and 4
    assert leaf_output(3.0, "log2", N, (1, 64)) == 8
    assert leaf_output(2.5, "linear", N, (1, 64)) == 4
    assert leaf_output(10.0, "log2", N, (1, 16)) == 16  # 1024 -> 64, clamped to 16
    assert leaf_output(math.log2(2000.0), "log2", D, (50, 4000)) == 1000


@pytest.mark.parametrize(("n", "train"), [(0, 0), (1, 1), (2, 1), (5, 4), (10, 8), (6001, 4800)])
def test_split_by_time(n: int, train: int) -> None:
    assert split_by_time(n) == train


def test_viterbi_smooths_a_flicker_and_keeps_a_lasting_change() -> None:
    costs = np.full((9, 3), 10.0)
    costs[:, 0] = 5.0
    costs[2, 1] = 4.0  # one-window dip: not worth two switches at cost 3
    costs[5:, 2] = 1.0  # lasting change: worth it
    assert viterbi(costs, 0.0).tolist() == [0, 0, 1, 0, 0, 2, 2, 2, 2]
    assert viterbi(costs, 3.0).tolist() == [0, 0, 0, 0, 0, 2, 2, 2, 2]
    assert viterbi(costs, 100.0).tolist() == [0] * 9


def test_viterbi_minimizes_the_total_cost() -> None:
    rng = np.random.default_rng(4)
    costs = rng.uniform(0, 10, (7, 3))
    best = min(
        (sum(costs[k, p[k]] for k in range(7)) + 4.0 * sum(p[k] != p[k - 1] for k in range(1, 7)),
         p)
        for p in np.ndindex(*(3,) * 7)
    )
    path = viterbi(costs, 4.0)
    total = costs[np.arange(7), path].sum() + 4.0 * count_switches(path)
    assert total == pytest.approx(best[0])


def test_next_target_uses_the_following_step_only_when_it_exists() -> None:
    costs = np.arange(12.0).reshape(4, 3)
    starts = np.array([0, STEP_NS, 3 * STEP_NS, 4 * STEP_NS])  # a gap after window 1
    got = target_costs(costs, starts, "next")
    assert got.tolist() == [costs[1].tolist(), costs[1].tolist(), costs[3].tolist(),
                            costs[3].tolist()]
    assert target_costs(costs, starts, "current") is costs
    labels = training_labels(-costs, starts, "next", 0.0)
    assert labels.tolist() == [2, 2, 2, 2]


def test_train_options_reject_bad_values() -> None:
    from reflexforge.errors import ForgeError

    for bad in ({"label_target": "later"}, {"switch_cost_us": -1.0}, {"confirm_steps": 0},
                {"dwell_steps": 6001}, {"target": "sqrt"}, {"confirm_steps": True}):
        with pytest.raises(ForgeError, match="E_USAGE"):
            TrainOptions(**bad)
