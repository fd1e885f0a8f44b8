"""NEM1 .reflex format: reader, writer, validator, evaluator (spec/NEM1.md).

Imports construct (lazily, off the fast read path), pyyaml (tests only) and rich (pretty
printing only); never numpy or scikit-learn. The names below are imported on first use, so
that ``import reflexfmt.<module>`` loads only that module and what it needs.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOME = {
    "Finding": "errors",
    "ReflexFormatError": "errors",
    "FEATURE_NAMES": "limits",
    "FEATURE_UNITS": "limits",
    "LEAF": "limits",
    "OUTPUT_NAMES": "limits",
    "OUTPUT_UNITS": "limits",
    "FeatureScale": "model",
    "Node": "model",
    "OutputBounds": "model",
    "Reflex": "model",
    "Runtime": "model",
    "load": "reader",
    "loads": "reader",
    "validate": "reader",
    "dump": "writer",
    "dumps": "writer",
}
__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'reflexfmt' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"reflexfmt.{_HOME[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))
