"""The NEM1 layout as struct formats: every fixed-size record of ``reflexfmt.schema``.

Generated from reflexfmt.schema by ``python -m reflexfmt.structgen``; do not edit.
tests/fmt/test_fmt_fastpath.py checks that it equals a fresh generation.
"""

SECTIONS = (
    "header",
    "scaling",
    "trees",
    "bounds",
    "metadata",
    "crc32",
)
HEADER_FORMAT = "<4sBBHBBHBBH"
HEADER_FIELDS = (
    "magic",
    "version_major",
    "version_minor",
    "flags",
    "feature_count",
    "output_count",
    "q_scale",
    "confirm_steps",
    "reserved",
    "dwell_steps",
)
HEADER_CODES = (
    "4s",
    "B",
    "B",
    "H",
    "B",
    "B",
    "H",
    "B",
    "B",
    "H",
)
SCALING_FORMAT = "<dd"
SCALING_FIELDS = (
    "lo",
    "hi",
)
SCALING_CODES = (
    "d",
    "d",
)
NODE_FORMAT = "<BBhHHh"
NODE_FIELDS = (
    "feature",
    "reserved",
    "threshold",
    "left",
    "right",
    "value",
)
NODE_CODES = (
    "B",
    "B",
    "h",
    "H",
    "H",
    "h",
)
BOUNDS_FORMAT = "<hh"
BOUNDS_FIELDS = (
    "min",
    "max",
)
BOUNDS_CODES = (
    "h",
    "h",
)
# A node without the fields that are 0 in every node: unpacks to a model.Node.
NODE_VALUES_FORMAT = "<B1xhHHh"
NODE_VALUE_FIELDS = (
    "feature",
    "threshold",
    "left",
    "right",
    "value",
)
NODE_FEATURE_OFFSET = 0
# One leaf's and one internal node's bytes under spec 4.1 rules 1-2 (re.DOTALL).
NODE_LEAF_PATTERN = rb"\xff\x00{7}.{2}"
NODE_INTERNAL_PATTERN = rb"[\x00-\x09]\x00.{6}\x00{2}"
NODE_COUNT_FORMAT = "<H"
METADATA_LENGTH_FORMAT = "<L"
CRC32_FORMAT = "<L"
