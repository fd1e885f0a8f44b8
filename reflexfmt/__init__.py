"""NEM1 .reflex format: reader, writer, validator, evaluator (spec/NEM1.md).

Imports construct (lazily, off the fast read path), pyyaml (tests only) and rich (pretty
printing only); never numpy or scikit-learn.
"""

from reflexfmt.errors import Finding, ReflexFormatError
from reflexfmt.limits import FEATURE_NAMES, FEATURE_UNITS, LEAF, OUTPUT_NAMES, OUTPUT_UNITS
from reflexfmt.model import FeatureScale, Node, OutputBounds, Reflex, Runtime
from reflexfmt.reader import load, loads, validate
from reflexfmt.writer import dump, dumps

__all__ = [
    "FEATURE_NAMES",
    "FEATURE_UNITS",
    "LEAF",
    "OUTPUT_NAMES",
    "OUTPUT_UNITS",
    "FeatureScale",
    "Finding",
    "Node",
    "OutputBounds",
    "Reflex",
    "ReflexFormatError",
    "Runtime",
    "dump",
    "dumps",
    "load",
    "loads",
    "validate",
]
