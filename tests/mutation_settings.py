"""Hypothesis settings of the input-mutation tests (mutated captures, Parquet, CSV telemetry,
training sets): the CI's example count, or a long randomized run.

``REFLEX_MUTATION_EXAMPLES=N`` (``./dev mutate [N]``) runs each mutation test with N random
examples, without the example database, instead of the CI's count; the two bugs such runs
found (hexadecimal integers in the CSV reader, a gzip'd pcap cut inside its header) slipped
through the CI's 100-300 examples."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

ENV = "REFLEX_MUTATION_EXAMPLES"


def mutation_settings(examples: int, derandomize: bool = False) -> settings:
    """``examples`` (and ``derandomize``) in CI; N random examples when ENV is set."""
    checks = [HealthCheck.function_scoped_fixture]
    if (text := os.environ.get(ENV, "").strip()):
        return settings(max_examples=int(text), deadline=None, derandomize=False,
                        database=None, suppress_health_check=checks)
    return settings(max_examples=examples, deadline=None, derandomize=derandomize,
                    suppress_health_check=checks)
