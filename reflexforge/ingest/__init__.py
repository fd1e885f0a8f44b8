"""Telemetry ingest: every input format, capture quirks, plausibility (spec/telemetry.md 5-8)."""
