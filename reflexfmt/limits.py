"""Constants of NEM1 v1 (spec/NEM1.md): limits, markers, feature schema v1. Used everywhere."""

from __future__ import annotations

MAGIC = b"NEM1"  # section 2
VERSION_MAJOR = 1  # section 2.1
VERSION_MINOR = 0  # the minor version this implementation writes
FEATURE_COUNT = 10  # section 8
OUTPUT_COUNT = 2  # section 8
LEAF = 0xFF  # section 4.1: `feature` value that marks a leaf
# Section 4.1 rule 1: the node fields that must be 0 in a leaf and in an internal node.
LEAF_ZERO_FIELDS = ("reserved", "threshold", "left", "right")
INTERNAL_ZERO_FIELDS = ("reserved", "value")

# Section 2: the header fields whose value is fixed in v1 (the others are Reflex attributes
# of the same name: version_minor, q_scale, confirm_steps, dwell_steps).
FIXED_HEADER: dict[str, object] = {
    "magic": MAGIC,
    "version_major": VERSION_MAJOR,
    "flags": 0,
    "feature_count": FEATURE_COUNT,
    "output_count": OUTPUT_COUNT,
    "reserved": 0,
}

MAX_FILE_SIZE = 131072  # section 8
MIN_NODES = 1  # section 4
MAX_NODES = 255  # section 4
MAX_TREE_DEPTH = 8  # section 4.1 rule 6: the deepest a file may hold (root is depth 0)
MAX_METADATA = 65536  # section 6
MAX_METADATA_LEVELS = 8  # section 6.1: block(n) with n <= 7
MAX_KEY_LENGTH = 64  # section 6.1

Q_SCALE_RANGE = (1, 32767)  # section 2: q_scale
CONFIRM_STEPS_RANGE = (1, 100)  # section 2: confirm_steps
DWELL_STEPS_RANGE = (0, 6000)  # section 2: dwell_steps
OUTPUT_MIN_FLOOR = (1, 0)  # section 5: lowest legal `min` per output
INT16_RANGE = (-32768, 32767)
INT64_RANGE = (-(2**63), 2**63 - 1)

# Section 12: feature schema v1 (index order). Units are the short display forms.
FEATURE_SCHEMA = "v1"
FEATURE_NAMES: tuple[str, ...] = (
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
FEATURE_UNITS: tuple[str, ...] = (
    "pkt",
    "pkt/s",
    "pkt/s",
    "µs",
    "µs",
    "B/s",
    "B/s",
    "B",
    "B²",
    "µs",
)
OUTPUT_NAMES: tuple[str, ...] = ("flush_threshold", "max_batch_delay")
OUTPUT_UNITS: tuple[str, ...] = ("pkt", "µs")

RESERVED_WORDS = frozenset(  # section 6.1: YAML 1.1 booleans and null
    {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}
)
