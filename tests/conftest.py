"""Shared fixtures: the checked-in example files, and tests/ on sys.path for strategies."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "spec" / "examples"
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def minimal_bytes() -> bytes:
    return (EXAMPLES / "minimal.reflex").read_bytes()


@pytest.fixture(scope="session")
def typical_bytes() -> bytes:
    return (EXAMPLES / "typical.reflex").read_bytes()


@pytest.fixture(scope="session", params=["minimal", "typical"])
def example_bytes(request: pytest.FixtureRequest) -> bytes:
    return (EXAMPLES / f"{request.param}.reflex").read_bytes()
