"""The expected decoding of an accepted vector, in the reflex-inspect --json shape.
Spec-only: no reflexfmt import."""

from __future__ import annotations

import zlib
from typing import Any

from .canonical import to_float

FEATURE_NAMES = (
    "queue_depth",
    "enqueue_rate",
    "dequeue_rate",
    "latency_p50",
    "latency_p95",
    "bytes_in_per_sec",
    "bytes_out_per_sec",
    "packet_size_mean",
    "packet_size_var",
    "rtt_ewma",
)
# Units in the short display form of the reflex-inspect --json shape.
FEATURE_UNITS = ("pkt", "pkt/s", "pkt/s", "µs", "µs", "B/s", "B/s", "B", "B²", "µs")
OUTPUT_NAMES = ("flush_threshold", "max_batch_delay")
OUTPUT_UNITS = ("pkt", "µs")


# ---- The expected decoding (reflex-inspect --json shape) -----------------------------------


def decoding(doc: dict[str, Any], data: bytes) -> dict[str, Any]:
    """What a reader decodes from an accepted vector, in the reflex-inspect --json shape."""
    return {
        "header": dict(doc["header"]),
        "features": [
            {
                "index": i,
                "name": FEATURE_NAMES[i],
                "unit": FEATURE_UNITS[i],
                "lo": to_float(lo),
                "hi": to_float(hi),
            }
            for i, (lo, hi) in enumerate(doc["scaling"])
        ],
        "trees": [
            {
                "output": o,
                "name": OUTPUT_NAMES[o],
                "nodes": [
                    {"feature": f, "threshold": t, "left": left, "right": right, "value": v}
                    for f, t, left, right, v in tree
                ],
            }
            for o, tree in enumerate(doc["trees"])
        ],
        "bounds": [
            {"output": o, "name": OUTPUT_NAMES[o], "unit": OUTPUT_UNITS[o], "min": lo, "max": hi}
            for o, (lo, hi) in enumerate(doc["bounds"])
        ],
        "metadata": doc["metadata"],
        "crc32": f"0x{zlib.crc32(data[:-4]):08x}",
    }
