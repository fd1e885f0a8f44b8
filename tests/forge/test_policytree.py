"""Cost-sensitive policy trees (reflexforge/policytree.py) against a brute-force reference.

The reference below is written from the rules of spec/training.md section 4.3 alone: every
threshold of every allowed feature is tried by masking the rows (no sorting, no prefix
sums), the children's actions are the argmin of their summed costs, and crossings are
counted pair by pair. Costs are small integers so that every sum is exact and ties (the
spec's tie-breaks) happen often.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reflexfmt import FeatureScale, OutputBounds, Reflex, dumps, loads
from reflexfmt.limits import MAX_NODES as MAX_TREE_NODES
from reflexforge.config import PAIRS
from reflexforge.policytree import (
    PolicyLeaf,
    PolicySplit,
    collapse,
    export_policy_tree,
    fit_policy_tree,
    leaves,
    predict,
)

P = len(PAIRS)

# --- the reference ------------------------------------------------------------------------


def ref_crossings(q, rows, follows, f, t) -> int:
    """Pairs (r, r + 1) of the node's rows, r + 1 following r, that ``q <= t`` separates."""
    if follows is None:
        return 0
    inside = set(rows.tolist())
    return sum(1 for r in rows.tolist()
               if r + 1 in inside and follows[r] and (q[r, f] <= t) != (q[r + 1, f] <= t))


def ref_best_split(q, costs, rows, features, min_leaf, follows=None, switch_cost=0.0):
    """(total, feature, threshold, left rows, right rows) or None: exhaustive search."""
    parent = costs[rows].sum(axis=0).min()
    best = None
    for f in sorted(features):
        values = sorted(set(q[rows, f].tolist()))
        for a, b in zip(values, values[1:], strict=False):
            t = (a + b) // 2
            go_left = q[rows, f] <= t
            left, right = rows[go_left], rows[~go_left]
            if len(left) < min_leaf or len(right) < min_leaf:
                continue
            lsum, rsum = costs[left].sum(axis=0), costs[right].sum(axis=0)
            la, ra = int(np.argmin(lsum)), int(np.argmin(rsum))
            if la == ra:
                continue
            total = lsum[la] + rsum[ra]
            if switch_cost > 0:
                total += switch_cost * ref_crossings(q, rows, follows, f, t)
            if total >= parent:
                continue
            if best is None or total < best[0]:  # ascending f then t: the first minimum wins
                best = (total, f, t, left, right)
    return best


def ref_leaf(costs, rows):
    return ("leaf", int(np.argmin(costs[rows].sum(axis=0))), len(rows))


def ref_grow(q, costs, rows, features, max_depth, min_leaf, follows=None, switch_cost=0.0,
             depth=0):
    """Depth-first growth: equal to best-first growth whenever the node cap does not bind."""
    if depth >= max_depth:
        return ref_leaf(costs, rows)
    best = ref_best_split(q, costs, rows, features, min_leaf, follows, switch_cost)
    if best is None:
        return ref_leaf(costs, rows)
    _, f, t, left, right = best
    return ("split", f, t,
            ref_grow(q, costs, left, features, max_depth, min_leaf, follows, switch_cost,
                     depth + 1),
            ref_grow(q, costs, right, features, max_depth, min_leaf, follows, switch_cost,
                     depth + 1))


def ref_best_first(q, costs, features, max_depth, min_leaf):
    """Best-first growth with the 255-node cap, by scanning every open leaf each round:
    largest gain first, ties to the node created first."""
    nodes = [{"rows": np.arange(q.shape[0]), "depth": 0, "split": None}]
    cands = {}

    def consider(i):
        node = nodes[i]
        if node["depth"] >= max_depth:
            return
        best = ref_best_split(q, costs, node["rows"], features, min_leaf)
        if best is not None:
            cands[i] = (costs[node["rows"]].sum(axis=0).min() - best[0], best)

    consider(0)
    count = 1
    while cands and count + 2 <= MAX_TREE_NODES:
        i = max(cands, key=lambda k: (cands[k][0], -k))
        _, (_, f, t, left, right) = cands.pop(i)
        nodes[i]["split"] = (f, t, len(nodes), len(nodes) + 1)
        for rows in (left, right):
            nodes.append({"rows": rows, "depth": nodes[i]["depth"] + 1, "split": None})
        count += 2
        consider(len(nodes) - 2)
        consider(len(nodes) - 1)

    def build(i):
        if nodes[i]["split"] is None:
            return ref_leaf(costs, nodes[i]["rows"])
        f, t, left, right = nodes[i]["split"]
        return ("split", f, t, build(left), build(right))

    return build(0)


def as_tuple(tree):
    if isinstance(tree, PolicyLeaf):
        return ("leaf", tree.action, tree.rows)
    return ("split", tree.feature, tree.threshold, as_tuple(tree.left), as_tuple(tree.right))


def count_nodes(tree) -> int:
    return 1 if isinstance(tree, PolicyLeaf) else 1 + count_nodes(tree.left) + \
        count_nodes(tree.right)


def depth_of(tree) -> int:
    return 0 if isinstance(tree, PolicyLeaf) else 1 + max(depth_of(tree.left),
                                                          depth_of(tree.right))


def leaf_of_rows(tree, q):
    """For every row, the id() of the leaf it lands in (an independent tree walk)."""
    out = []
    for row in q:
        t = tree
        while isinstance(t, PolicySplit):
            t = t.left if row[t.feature] <= t.threshold else t.right
        out.append(t)
    return out


def crossings_of(actions: np.ndarray) -> int:
    return int(np.count_nonzero(actions[1:] != actions[:-1]))


# --- data ---------------------------------------------------------------------------------


@st.composite
def problems(draw, max_rows=40, max_value=6):
    n = draw(st.integers(1, max_rows))
    top = draw(st.integers(0, max_value))
    q = np.array(draw(st.lists(st.lists(st.integers(0, top), min_size=10, max_size=10),
                               min_size=n, max_size=n)), dtype=np.int64)
    # Few distinct pairs carry low costs, so that leaves disagree and ties are common.
    hot = draw(st.lists(st.integers(0, P - 1), min_size=1, max_size=4, unique=True))
    spread = draw(st.sampled_from([1, 3, 30]))
    costs = np.full((n, P), 50.0)
    for r in range(n):
        for p in hot:
            costs[r, p] = float(draw(st.integers(0, spread)))
    features = sorted(draw(st.sets(st.integers(0, 9), min_size=1, max_size=10)))
    min_leaf = draw(st.integers(1, 5))
    follows = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    return q, costs, features, min_leaf, follows


def random_problem(seed: int, n: int, distinct: int, float_costs: bool = False):
    rng = np.random.default_rng(seed)
    q = rng.integers(0, distinct, (n, 10)).astype(np.int64) * 97  # spread grid values
    if float_costs:
        costs = rng.gamma(2.0, 100.0, (n, P))
    else:
        costs = rng.integers(0, 40, (n, P)).astype(np.float64)
    return q, costs


# --- tests --------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(problems(), st.sampled_from([0.0, 0.5, 3.0, 10.0]))
def test_root_split_equals_exhaustive_search(problem, switch_cost: float) -> None:
    q, costs, features, min_leaf, follows = problem
    rows = np.arange(q.shape[0])
    tree = fit_policy_tree(q, costs, features, 1, min_leaf, follows, switch_cost)
    best = ref_best_split(q, costs, rows, features, min_leaf, follows, switch_cost)
    if best is None:
        assert as_tuple(tree) == ref_leaf(costs, rows)
    else:
        _, f, t, left, right = best
        assert as_tuple(tree) == ("split", f, t, ref_leaf(costs, left), ref_leaf(costs, right))


@settings(max_examples=80, deadline=None)
@given(problems(max_rows=30), st.integers(0, 5), st.sampled_from([0.0, 2.0]))
def test_tree_equals_the_reference_growth(problem, max_depth: int, switch_cost: float) -> None:
    q, costs, features, min_leaf, follows = problem
    tree = fit_policy_tree(q, costs, features, max_depth, min_leaf, follows, switch_cost)
    want = ref_grow(q, costs, np.arange(q.shape[0]), features, max_depth, min_leaf, follows,
                    switch_cost)
    assert as_tuple(tree) == want


@settings(max_examples=40, deadline=None)
@given(problems(max_rows=30), st.sampled_from([0.0, 2.0]))
def test_the_order_of_the_features_does_not_matter(problem, switch_cost: float) -> None:
    """Split ties go to the lowest feature index (spec/training.md section 4.3) however the
    allowed features are listed."""
    q, costs, features, min_leaf, follows = problem
    listed = list(features)
    shuffled = listed[::-1] + listed  # reversed, with repeats
    assert as_tuple(fit_policy_tree(q, costs, shuffled, 3, min_leaf, follows, switch_cost)) \
        == as_tuple(fit_policy_tree(q, costs, sorted(listed), 3, min_leaf, follows,
                                    switch_cost))


@settings(max_examples=60, deadline=None)
@given(problems())
def test_a_root_only_tree_is_the_best_static_pair(problem) -> None:
    q, costs, features, min_leaf, _ = problem
    tree = fit_policy_tree(q, costs, features, 0, min_leaf)
    sums = costs.sum(axis=0)
    best = min(range(P), key=lambda p: (sums[p], p))  # lowest sum, ties to the lowest index
    assert tree == PolicyLeaf(best, q.shape[0])
    # A minimum leaf larger than half the rows allows no split either.
    assert fit_policy_tree(q, costs, features, 8, q.shape[0] // 2 + 1) == tree


@pytest.mark.parametrize("seed", range(6))
def test_a_fitted_tree_never_costs_more_than_the_best_static_pair(seed: int) -> None:
    q, costs = random_problem(seed, 400, 12, float_costs=True)
    # Make the features informative: rows with a large feature 3 prefer the high pairs.
    costs[q[:, 3] > 500, 20:] *= 0.3
    follows = np.ones(400, dtype=bool)
    static = costs.sum(axis=0).min()
    for depth, min_leaf, switch_cost in ((1, 1, 0.0), (4, 5, 0.0), (8, 1, 0.0), (4, 20, 50.0)):
        tree = fit_policy_tree(q, costs, tuple(range(10)), depth, min_leaf, follows,
                               switch_cost)
        chosen = predict(tree, q)
        got = costs[np.arange(400), chosen].sum()
        assert got <= static * (1 + 1e-12), (depth, min_leaf, got, static)
        if depth >= 4 and switch_cost == 0:
            assert got < static * 0.99  # and it does use the features


@pytest.mark.parametrize("seed", range(4))
def test_exported_trees_evaluate_like_predict(seed: int) -> None:
    q, costs = random_problem(100 + seed, 600, 40)
    tree = fit_policy_tree(q, costs, (0, 2, 4, 6, 8, 9), 8, 2)
    assert depth_of(tree) >= 5
    trees = export_policy_tree(tree)
    first, second = trees
    assert len(first) == len(second) == count_nodes(collapse(tree))
    for a, b in zip(first, second, strict=True):  # one structure: only the leaf values differ
        assert (a.feature, a.threshold, a.left, a.right) == (b.feature, b.threshold, b.left,
                                                              b.right)
    # Scaling lo = 0, hi = q_scale = 32767 makes the runtime's grid value of x equal to x.
    reflex = Reflex(tuple(FeatureScale(0.0, 32767.0) for _ in range(10)), trees,
                    (OutputBounds(1, 64), OutputBounds(50, 4000)),
                    {"created_at": "2025-01-01T00:00:00Z", "feature_schema": "v1",
                     "lambda": 0.1, "telemetry_hash": "0" * 40, "trainer_commit": "tests"})
    reflex = loads(dumps(reflex))  # a valid NEM1 file (depth, node count, child order)
    probe = np.concatenate((q, q + 1, np.maximum(q - 1, 0)))  # also just off every value
    chosen = predict(tree, probe)
    for row, c in zip(probe.tolist(), chosen.tolist(), strict=True):
        assert reflex.evaluate([float(v) for v in row]) == PAIRS[c]


def test_node_cap_at_depth_8_follows_best_first_order() -> None:
    q, costs = random_problem(7, 1500, 16)
    tree = fit_policy_tree(q, costs, tuple(range(10)), 8, 1)
    assert count_nodes(tree) == MAX_TREE_NODES  # the cap binds: a full depth-8 tree is 511
    assert depth_of(tree) <= 8
    assert as_tuple(tree) == ref_best_first(q, costs, tuple(range(10)), 8, 1)
    nodes = export_policy_tree(tree)
    assert len(nodes[0]) <= MAX_TREE_NODES


@pytest.mark.parametrize("min_leaf", [1, 7, 25, 60])
def test_min_leaf_is_respected(min_leaf: int) -> None:
    q, costs = random_problem(11, 300, 30)
    tree = fit_policy_tree(q, costs, tuple(range(10)), 8, min_leaf)
    landed = leaf_of_rows(tree, q)
    assert isinstance(tree, PolicySplit)
    stack = [tree]
    while stack:
        t = stack.pop()
        if isinstance(t, PolicySplit):
            stack += [t.left, t.right]
            continue
        count = sum(1 for leaf in landed if leaf is t)
        assert count == t.rows >= min_leaf
    # The smallest leaf size allowed is met by some split when min_leaf is 1.
    if min_leaf == 1:
        assert leaves(tree) > 8


def test_switch_cost_avoids_a_flickering_feature() -> None:
    """Feature 0 flickers from row to row and predicts the best pair perfectly; feature 1
    changes once and is right 90 % of the time. Without a switch cost the tree splits on
    feature 0 and its choice flips dozens of times along the rows; with one it splits on
    feature 1 and flips once."""
    n = 200
    rng = np.random.default_rng(3)
    q = np.zeros((n, 10), dtype=np.int64)
    half = np.arange(n) >= n // 2
    wrong = rng.random(n) < 0.1
    high = half ^ wrong  # the rows where pair 1 is the better one
    q[:, 0] = np.where(high, 900, 100)
    q[:, 1] = np.where(half, 5000, 1000)
    costs = np.full((n, P), 100.0)
    costs[:, 0] = np.where(high, 10.0, 0.0)
    costs[:, 1] = np.where(high, 0.0, 10.0)
    follows = np.ones(n, dtype=bool)
    plain = fit_policy_tree(q, costs, (0, 1), 1, 1, follows, 0.0)
    smooth = fit_policy_tree(q, costs, (0, 1), 1, 1, follows, 20.0)
    assert isinstance(plain, PolicySplit) and plain.feature == 0
    assert isinstance(smooth, PolicySplit) and smooth.feature == 1
    flips_plain = crossings_of(predict(plain, q))
    flips_smooth = crossings_of(predict(smooth, q))
    assert flips_smooth == 1 < 10 < flips_plain
    # Rows that do not follow each other are not charged: with no row following another,
    # the switch cost changes nothing.
    apart = fit_policy_tree(q, costs, (0, 1), 1, 1, np.zeros(n, dtype=bool), 20.0)
    assert apart == plain


def test_a_split_that_gains_nothing_is_not_made() -> None:
    """Left prefers pair 3, right ties pairs 1 and 3 (its action is 1, the lower index): the
    children's actions differ but their summed cost equals the node's, so no split."""
    q = np.zeros((4, 10), dtype=np.int64)
    q[:, 0] = [0, 0, 10, 10]
    costs = np.full((4, P), 50.0)
    costs[:, 1] = [5.0, 5.0, 1.0, 1.0]
    costs[:, 3] = [0.0, 0.0, 1.0, 1.0]
    assert ref_best_split(q, costs, np.arange(4), (0,), 1) is None
    assert fit_policy_tree(q, costs, (0,), 4, 1) == PolicyLeaf(3, 4)
    costs[3, 3] = 1.5  # now the split gains: left 3, right 1
    assert fit_policy_tree(q, costs, (0,), 4, 1) == PolicySplit(0, 5, PolicyLeaf(3, 2),
                                                                PolicyLeaf(1, 2))


def test_collapse_merges_equal_sibling_leaves_bottom_up() -> None:
    tree = PolicySplit(0, 5,
                       PolicySplit(1, 3, PolicyLeaf(4, 2), PolicyLeaf(4, 3)),
                       PolicySplit(2, 9, PolicyLeaf(4, 1), PolicyLeaf(7, 1)))
    assert collapse(tree) == PolicySplit(0, 5, PolicyLeaf(4, 5),
                                         PolicySplit(2, 9, PolicyLeaf(4, 1), PolicyLeaf(7, 1)))
    nested = PolicySplit(0, 5, PolicySplit(1, 3, PolicyLeaf(2, 2), PolicyLeaf(2, 3)),
                         PolicyLeaf(2, 4))
    assert collapse(nested) == PolicyLeaf(2, 9)
    trees = export_policy_tree(nested)
    assert [len(t) for t in trees] == [1, 1]
    assert (trees[0][0].value, trees[1][0].value) == PAIRS[2]
    q = np.array([[0] * 10, [9] * 10], dtype=np.int64)
    assert predict(nested, q).tolist() == [2, 2]


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError):
        fit_policy_tree(np.zeros((3, 10)), np.zeros((3, P - 1)), (0,), 2, 1)
    with pytest.raises(ValueError):
        fit_policy_tree(np.zeros((0, 10)), np.zeros((0, P)), (0,), 2, 1)
