#!/usr/bin/env python3
"""``reflexfmt.loads(typical.reflex)`` side by side with ONNX loading and checking the same
two depth-4 trees, in the same process and run (issue 10, target: reflexfmt <= 1.0x ONNX).

The two trees of spec/examples/typical.reflex are copied node for node into two fitted
scikit-learn DecisionTreeRegressors, converted once with ``skl2onnx.to_onnx``; one ONNX call
is ``onnx.load_model_from_string`` + ``onnx.checker.check_model`` of both models. The two
measurements alternate in rounds so that a busy machine slows both alike.

Needs the benchmark-only extra: ``pip install -e '.[bench]'`` (onnx, skl2onnx).
Usage: .venv/bin/python benchmarks/bench_onnx.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import timeit
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TYPICAL = ROOT / "spec" / "examples" / "typical.reflex"


def onnx_models(reflex) -> list[bytes]:
    """The serialized ONNX model of each tree of ``reflex``, as skl2onnx writes it."""
    from skl2onnx import to_onnx
    from sklearn.tree import DecisionTreeRegressor

    out = []
    for tree in reflex.trees:
        model = _regressor_like(tree, DecisionTreeRegressor)
        x = np.zeros((1, len(reflex.scaling)), dtype=np.float32)
        out.append(to_onnx(model, x, target_opset=17).SerializeToString())
    return out


def _regressor_like(nodes, regressor_type):
    """A fitted regressor whose tree is ``nodes`` (same shape, splits and leaf values)."""
    rng = np.random.default_rng(0)
    for seed in range(1000):  # fit until sklearn's tree has as many nodes, then overwrite
        x = rng.random((4096, 10))
        y = rng.random(4096)
        model = regressor_type(max_depth=4, random_state=seed).fit(x, y)
        if model.tree_.node_count == len(nodes):
            break
    else:
        raise SystemExit("no fitted tree of the right size")
    t = model.tree_
    for i, n in enumerate(nodes):
        leaf = n.is_leaf
        t.children_left[i] = -1 if leaf else n.left
        t.children_right[i] = -1 if leaf else n.right
        t.feature[i] = -2 if leaf else n.feature
        t.threshold[i] = -2.0 if leaf else n.threshold + 0.5
        t.value[i, 0, 0] = n.value if leaf else 0.0
    return model


def measure(rounds: int, number: int) -> tuple[list[float], list[float]]:
    """Per-call µs of reflexfmt.loads and of the ONNX load + check, ``rounds`` each."""
    import onnx

    from reflexfmt import loads

    data = TYPICAL.read_bytes()
    blobs = onnx_models(loads(data))

    def with_onnx() -> None:
        for blob in blobs:
            onnx.checker.check_model(onnx.load_model_from_string(blob))

    loads(data)
    with_onnx()
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(timeit.timeit(lambda: loads(data), number=number) / number * 1e6)
        theirs.append(timeit.timeit(with_onnx, number=number) / number * 1e6)
    return ours, theirs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="alternating rounds (15)")
    parser.add_argument("--number", type=int, default=1000, help="calls per round (1000)")
    args = parser.parse_args()
    ours, theirs = measure(args.rounds, args.number)
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    print(f"reflexfmt.loads(typical.reflex): best {min(ours):.1f} µs, "
          f"median {statistics.median(ours):.1f} µs")
    print(f"onnx load_model_from_string + check_model, both trees: best {min(theirs):.1f} µs, "
          f"median {statistics.median(theirs):.1f} µs")
    print(f"ratio reflexfmt / onnx: best-to-best {min(ours) / min(theirs):.2f}x, "
          f"median of rounds {statistics.median(ratios):.2f}x (target <= 1.00x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
