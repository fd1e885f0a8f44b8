"""The 24 grid pairs of ``config.PAIRS`` as arrays, in pair-index order (numpy only, so that
parsers and option checks can use them without the compiled kernels)."""

from __future__ import annotations

import numpy as np

from reflexforge.config import PAIRS

PAIR_N = np.array([n for n, _ in PAIRS], dtype=np.int64)
"""Each pair's flush threshold in packets."""
PAIR_D_US = np.array([d for _, d in PAIRS], dtype=np.int64)
"""Each pair's max batch delay in µs."""
PAIR_D_NS = PAIR_D_US * 1000
"""Each pair's max batch delay in ns."""
