"""A one-leaf reflex of one pair of the oracle grid (``reflex-forge static``,
spec/training.md section 11): what the gate's refusal names when a static pair beats a
forged reflex, as a file a runtime runs like any other."""

from __future__ import annotations

import hashlib

import numpy as np

from reflexfmt import Node, Reflex
from reflexfmt.limits import FEATURE_COUNT, FEATURE_SCHEMA
from reflexforge.candidates import runtime_reflex
from reflexforge.config import GRID_D_US, GRID_N, ForgeOptions
from reflexforge.errors import E_USAGE, ForgeError
from reflexforge.provenance import created_at, trainer_commit
from reflexforge.train import TrainOptions

NO_TELEMETRY_SHA1 = hashlib.sha1(b"").hexdigest()
"""``telemetry_hash`` of a reflex trained on nothing: the SHA-1 of no bytes."""


def static_reflex(pair: tuple[int, int], confirm_steps: int, dwell_steps: int) -> Reflex:
    """The reflex whose two trees are one leaf each, ``pair`` = (N packets, D µs); features
    scaled with ``lo = hi = 0`` (never read). E_USAGE unless ``pair`` is on the grid."""
    n, d_us = pair
    if n not in GRID_N or d_us not in GRID_D_US:
        raise ForgeError(E_USAGE, f"({n}, {d_us} µs) is not a pair of the oracle grid: N in "
                         f"{', '.join(map(str, GRID_N))}, D in "
                         f"{', '.join(map(str, GRID_D_US))} µs")
    t = TrainOptions(confirm_steps=confirm_steps, dwell_steps=dwell_steps)
    metadata: dict[str, object] = {
        "created_at": created_at(),
        "feature_schema": FEATURE_SCHEMA,
        "lambda": float(ForgeOptions().lam),
        "telemetry_hash": NO_TELEMETRY_SHA1,
        "trainer_commit": trainer_commit(),
        "training": {"model": "static", "pair": [int(n), int(d_us)]},
    }
    zeros = np.zeros(FEATURE_COUNT)
    return runtime_reflex(zeros, zeros, ((Node.leaf(n),), (Node.leaf(d_us),)), t, metadata)
