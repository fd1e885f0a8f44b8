"""Struct formats of the NEM1 layout for the fast path of ``loads``.

Generated from reflexfmt.schema by ``python -m reflexfmt.layout``; do not edit.
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
SCALING_FORMAT = "<dd"
SCALING_FIELDS = (
    "lo",
    "hi",
)
NODE_COUNT_FORMAT = "<H"
NODE_FORMAT = "<BBhHHh"
NODE_FIELDS = (
    "feature",
    "reserved",
    "threshold",
    "left",
    "right",
    "value",
)
BOUNDS_FORMAT = "<hh"
BOUNDS_FIELDS = (
    "min",
    "max",
)
METADATA_LENGTH_FORMAT = "<L"
CRC32_FORMAT = "<L"
