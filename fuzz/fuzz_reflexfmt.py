#!/usr/bin/env python3
"""atheris (libFuzzer) harness for reflexfmt.loads and reflexfmt.validate.

    python fuzz/fuzz_reflexfmt.py CORPUS_DIR [SEED_DIR ...] [libFuzzer flags]

fuzz/run_bounded.py runs it with the right flags and the vectors as seeds. A finding is any
exception other than ReflexFormatError (a failed invariant below raises AssertionError), an
input slower than libFuzzer's -timeout, or an allocation the address-space limit refuses
(MemoryError) or, with NEM1_FUZZ_PEAK_MB set, a traced peak above that many MiB.

The invariants checked on every input are in fuzz/invariants.py (shared with the hypothesis
tests in tests/fmt/test_fuzz_mutations.py).
"""

from __future__ import annotations

import os
import resource
import sys
import tracemalloc

import atheris

with atheris.instrument_imports():
    import reflexfmt  # noqa: F401  (instrumented before invariants imports it)

from invariants import check  # noqa: E402

PEAK_MB = int(os.environ.get("NEM1_FUZZ_PEAK_MB", "0"))
PEAK_EVERY = max(1, int(os.environ.get("NEM1_FUZZ_PEAK_EVERY", "1")))
_inputs = 0


def test_one_input(data: bytes) -> None:
    global _inputs
    _inputs += 1
    if not PEAK_MB or _inputs % PEAK_EVERY:
        check(data)
        return
    tracemalloc.start()
    try:
        check(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    if peak > PEAK_MB << 20:
        raise MemoryError(f"peak {peak / 2**20:.1f} MiB for a {len(data)}-byte input")


def limit_address_space(extra_mb: int = 1024) -> None:
    """Refuse any allocation that grows the process by more than `extra_mb` MiB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[0])
    now = pages * resource.getpagesize()
    limit = now + (extra_mb << 20)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main() -> None:
    if os.environ.get("NEM1_FUZZ_AS_MB"):
        limit_address_space(int(os.environ["NEM1_FUZZ_AS_MB"]))
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
