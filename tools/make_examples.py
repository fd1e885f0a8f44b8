#!/usr/bin/env python3
"""Generate spec/examples/{minimal,typical}.reflex and their --json with the reflexfmt writer.

Deterministic: the same code always writes the same bytes. tests/fmt/test_fmt_examples.py checks
that the checked-in files equal a fresh generation. Usage: tools/make_examples.py [--out DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from reflexfmt import FeatureScale, Node, OutputBounds, Reflex, dumps, loads
from reflexfmt.atomic import atomic_write_bytes
from reflexfmt.jsonshape import dump_document, to_document

# Realistic raw ranges of the ten v1 features (spec 12), lo and hi in raw units.
SCALING = (
    FeatureScale(0.0, 512.0),  # queue_depth, packets
    FeatureScale(0.0, 200000.0),  # enqueue_rate, packets/s
    FeatureScale(0.0, 200000.0),  # dequeue_rate, packets/s
    FeatureScale(0.0, 5000.0),  # latency_p50, µs
    FeatureScale(0.0, 20000.0),  # latency_p95, µs
    FeatureScale(0.0, 1.25e9),  # bytes_in_per_sec, bytes/s (10 Gbit/s)
    FeatureScale(0.0, 1.25e9),  # bytes_out_per_sec, bytes/s
    FeatureScale(64.0, 1500.0),  # packet_size_mean, bytes
    FeatureScale(0.0, 400000.0),  # packet_size_var, bytes²
    FeatureScale(10.0, 50000.0),  # rtt_ewma, µs
)
BOUNDS = (OutputBounds(1, 64), OutputBounds(50, 4000))


def metadata(name: str) -> dict[str, object]:
    return {
        "created_at": "2025-10-06T12:00:00Z",
        "telemetry_hash": hashlib.sha1(f"example telemetry: {name}".encode()).hexdigest(),
        "trainer_commit": "forge@0000000",
        "lambda": 0.1,
        "feature_schema": "v1",
        "example": name,
    }


def full_tree(features: list[int], thresholds: list[int], leaves: list[int]) -> tuple[Node, ...]:
    """A full binary tree of depth 4 (31 nodes) numbered in pre-order, so children > parent."""
    nodes: list[Node | None] = []
    splits = iter(zip(features, thresholds, strict=True))
    values = iter(leaves)

    def grow(depth: int) -> int:
        index = len(nodes)
        nodes.append(None)
        if depth == 4:
            nodes[index] = Node.leaf(next(values))
        else:
            feature, threshold = next(splits)
            left = grow(depth + 1)
            right = grow(depth + 1)
            nodes[index] = Node.split(feature, threshold, left, right)
        return index

    grow(0)
    return tuple(n for n in nodes if n is not None)


def minimal() -> Reflex:
    return Reflex(
        scaling=SCALING,
        trees=((Node.leaf(16),), (Node.leaf(1000),)),
        bounds=BOUNDS,
        metadata=metadata("minimal"),
    )


def typical() -> Reflex:
    flush = full_tree(
        features=[0, 1, 7, 3, 5, 8, 9, 2, 4, 6, 0, 1, 3, 7, 9],
        thresholds=[
            1599,
            6552,
            11466,
            13106,
            2620,
            4095,
            655,
            19660,
            16383,
            9829,
            8191,
            24575,
            3276,
            22936,
            1310,
        ],
        leaves=[1, 4, 8, 16, 4, 8, 16, 32, 8, 16, 32, 64, 16, 32, 64, 64],
    )
    delay = full_tree(
        features=[4, 3, 9, 0, 1, 2, 5, 8, 6, 7, 4, 3, 9, 0, 1],
        thresholds=[
            8191,
            6553,
            1966,
            639,
            4915,
            9829,
            13106,
            819,
            16383,
            11796,
            24575,
            3276,
            6552,
            2047,
            27852,
        ],
        leaves=[
            50,
            200,
            200,
            1000,
            50,
            200,
            1000,
            4000,
            200,
            1000,
            1000,
            4000,
            50,
            200,
            1000,
            4000,
        ],
    )
    return Reflex(
        scaling=SCALING,
        trees=(flush, delay),
        bounds=BOUNDS,
        metadata={**metadata("typical"), "trainer": {"max_depth": 4, "windows": 6000}},
        confirm_steps=3,
        dwell_steps=10,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parent.parent / "spec" / "examples"
    parser.add_argument("--out", type=Path, default=default, help="output directory")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, reflex in (("minimal", minimal()), ("typical", typical())):
        data = dumps(reflex)
        document = dump_document(to_document(loads(data), data))
        atomic_write_bytes(args.out / f"{name}.reflex", data)
        atomic_write_bytes(args.out / f"{name}.json", document.encode("ascii"))
        print(f"{args.out / name}.reflex: {len(data)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
