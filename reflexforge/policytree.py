"""Joint cost-sensitive policy trees (spec/training.md section 4.3).

A policy tree chooses one of the 24 pairs per leaf. It is grown greedily on the int16 grid
values ``q`` of the training rows and a cost matrix ``C[rows, 24]`` (the horizon costs of
``reflexforge.horizon``):

- a node's action is the pair with the lowest summed cost over its rows (ties: lowest pair
  index), and its cost is that sum;
- a node is split at the threshold, over every allowed feature and every boundary between
  two neighbouring distinct grid values, that gives the lowest summed cost of its two
  children (plus ``switch_cost`` for every pair of consecutive windows the split separates),
  provided both children hold at least ``min_leaf`` rows, their actions differ and that
  cost is strictly lower than the node's (ties: lowest feature index, then lowest
  threshold);
- nodes are expanded best first (largest cost reduction, ties by creation order) until
  none can be split, ``max_depth`` is reached, or another split would exceed NEM1's 255
  nodes.

Exported as two NEM1 trees with the same structure, so both outputs always come from one
leaf. A tree that is only its root is the best static pair on the rows.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reflexfmt import Node
from reflexfmt.limits import MAX_NODES
from reflexforge.config import PAIRS


@dataclass(frozen=True)
class PolicyLeaf:
    action: int  # index into PAIRS
    rows: int


@dataclass(frozen=True)
class PolicySplit:
    feature: int
    threshold: int  # q <= threshold goes left
    left: PolicyLeaf | PolicySplit
    right: PolicyLeaf | PolicySplit


PolicyTree = PolicyLeaf | PolicySplit


@dataclass(frozen=True)
class _Candidate:
    gain: float
    feature: int
    threshold: int
    left_rows: np.ndarray
    right_rows: np.ndarray


def _crossings(q: np.ndarray, rows: np.ndarray, follows: np.ndarray | None, f: int,
               at: np.ndarray) -> np.ndarray:
    """For each grid value v in ``at``: how many pairs of consecutive rows of the node (row
    r + 1 follows row r by one step) a split ``q <= v`` separates."""
    if follows is None:
        return np.zeros(at.shape[0], dtype=np.int64)
    first = rows[:-1][(rows[1:] == rows[:-1] + 1) & follows[rows[:-1]]]
    a, b = q[first, f], q[first + 1, f]
    lo, hi = np.sort(np.minimum(a, b)), np.sort(np.maximum(a, b))
    return np.searchsorted(lo, at, side="right") - np.searchsorted(hi, at, side="right")


def _best_split(q: np.ndarray, costs: np.ndarray, rows: np.ndarray, features: Sequence[int],
                min_leaf: int, follows: np.ndarray | None = None,
                switch_cost: float = 0.0) -> _Candidate | None:
    """The best split of ``rows`` (see module doc), or None when no split lowers the cost."""
    m = rows.shape[0]
    if m < 2 * min_leaf:
        return None
    node_cost = costs[rows].sum(axis=0)
    parent = float(node_cost.min())
    best: tuple[float, int, int] | None = None
    best_rows: tuple[np.ndarray, np.ndarray] | None = None
    for f in sorted(set(features)):  # ties go to the lowest feature index, whatever the order
        values = q[rows, f]
        order = np.argsort(values, kind="stable")
        sv = values[order]
        c = costs[rows[order]]
        left = np.cumsum(c, axis=0)
        right = np.cumsum(c[::-1], axis=0)[::-1]
        # split after position i: left = 0..i, right = i+1..m-1
        i = np.arange(min_leaf - 1, m - min_leaf)
        if i.shape[0] == 0:
            continue
        i = i[sv[i] < sv[i + 1]]
        if i.shape[0] == 0:
            continue
        lsum, rsum = left[i], right[i + 1]
        la, ra = np.argmin(lsum, axis=1), np.argmin(rsum, axis=1)
        total = lsum[np.arange(i.shape[0]), la] + rsum[np.arange(i.shape[0]), ra]
        if switch_cost > 0:
            total = total + switch_cost * _crossings(q, rows, follows, f, sv[i])
        ok = (la != ra) & (total < parent)
        if not ok.any():
            continue
        k = int(np.flatnonzero(ok)[np.argmin(total[ok])])  # first minimum: lowest threshold
        cost = float(total[k])
        if best is None or cost < best[0]:
            at = int(i[k])
            threshold = (int(sv[at]) + int(sv[at + 1])) // 2
            best = (cost, f, threshold)
            best_rows = (rows[order[:at + 1]], rows[order[at + 1:]])
    if best is None or best_rows is None:
        return None
    return _Candidate(parent - best[0], best[1], best[2], np.sort(best_rows[0]),
                      np.sort(best_rows[1]))


def action(costs: np.ndarray, rows: np.ndarray) -> int:
    """The pair index with the lowest summed cost over ``rows`` (ties: lowest index)."""
    return int(np.argmin(costs[rows].sum(axis=0)))


def fit_policy_tree(q: np.ndarray, costs: np.ndarray, features: Sequence[int],
                    max_depth: int, min_leaf: int, follows: np.ndarray | None = None,
                    switch_cost: float = 0.0) -> PolicyTree:
    """Grow a policy tree on grid values ``q`` [n, 10] and costs ``costs`` [n, 24].

    With ``switch_cost`` > 0, a split also costs ``switch_cost`` for every pair of
    consecutive rows it separates (``follows[r]``: row r + 1 is the window one step after
    row r), so thresholds where the features of neighbouring windows flicker are avoided.
    """
    q = np.asarray(q, dtype=np.int64)
    costs = np.asarray(costs, dtype=np.float64)
    n = q.shape[0]
    if n == 0 or costs.shape != (n, len(PAIRS)):
        raise ValueError(f"need rows with {len(PAIRS)} costs, got q {q.shape}, costs "
                         f"{costs.shape}")
    root = np.arange(n)
    # Node table: id -> rows, depth, split (or None). Children created on expansion.
    node_rows: list[np.ndarray] = [root]
    node_depth: list[int] = [0]
    split: dict[int, tuple[int, int, int, int]] = {}  # id -> (feature, threshold, left, right)
    heap: list[tuple[float, int, _Candidate]] = []

    def consider(node: int) -> None:
        if node_depth[node] >= max_depth:
            return
        cand = _best_split(q, costs, node_rows[node], features, min_leaf, follows,
                           switch_cost)
        if cand is not None:
            heapq.heappush(heap, (-cand.gain, node, cand))  # type: ignore[misc]

    consider(0)
    count = 1
    while heap and count + 2 <= MAX_NODES:
        _, node, cand = heapq.heappop(heap)
        left, right = len(node_rows), len(node_rows) + 1
        node_rows += [cand.left_rows, cand.right_rows]
        node_depth += [node_depth[node] + 1] * 2
        split[node] = (cand.feature, cand.threshold, left, right)
        count += 2
        consider(left)
        consider(right)

    def build(node: int) -> PolicyTree:
        if node not in split:
            return PolicyLeaf(action(costs, node_rows[node]), int(node_rows[node].shape[0]))
        f, t, left, right = split[node]
        return PolicySplit(f, t, build(left), build(right))

    return build(0)


def leaves(tree: PolicyTree) -> int:
    """Number of leaves."""
    if isinstance(tree, PolicyLeaf):
        return 1
    return leaves(tree.left) + leaves(tree.right)


def collapse(tree: PolicyTree) -> PolicyTree:
    """Replace, bottom-up, every split whose two children are leaves of one action."""
    if isinstance(tree, PolicyLeaf):
        return tree
    left, right = collapse(tree.left), collapse(tree.right)
    if isinstance(left, PolicyLeaf) and isinstance(right, PolicyLeaf) \
            and left.action == right.action:
        return PolicyLeaf(left.action, left.rows + right.rows)
    return PolicySplit(tree.feature, tree.threshold, left, right)


def export_policy_tree(tree: PolicyTree) -> tuple[tuple[Node, ...], tuple[Node, ...]]:
    """Two NEM1 trees in preorder with the same structure: leaf values are the flush
    threshold (tree 0) and the max batch delay in us (tree 1) of the leaf's pair."""
    trees: tuple[list[Node], list[Node]] = ([], [])

    def emit(t: PolicyTree) -> int:
        index = len(trees[0])
        for nodes in trees:
            nodes.append(Node.leaf(0))
        if isinstance(t, PolicyLeaf):
            n, d = PAIRS[t.action]
            trees[0][index], trees[1][index] = Node.leaf(n), Node.leaf(d)
        else:
            left = emit(t.left)
            right = emit(t.right)
            for nodes in trees:
                nodes[index] = Node.split(t.feature, t.threshold, left, right)
        return index

    emit(collapse(tree))
    return tuple(trees[0]), tuple(trees[1])


def predict(tree: PolicyTree, q: np.ndarray) -> np.ndarray:
    """The pair index of every row of the grid matrix ``q``."""
    q = np.asarray(q, dtype=np.int64)
    out = np.empty(q.shape[0], dtype=np.int64)

    def walk(t: PolicyTree, rows: np.ndarray) -> None:
        if isinstance(t, PolicyLeaf):
            out[rows] = t.action
            return
        go_left = q[rows, t.feature] <= t.threshold
        walk(t.left, rows[go_left])
        walk(t.right, rows[~go_left])

    walk(tree, np.arange(q.shape[0]))
    return out
