"""Plausibility warnings for a trace that reads fine but looks wrong (spec/telemetry.md 7)."""

from __future__ import annotations

from reflexforge.telemetry import Trace


def warnings_for(trace: Trace, link_bps: int | None = None) -> list[str]:
    return []
