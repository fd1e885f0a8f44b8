"""Invariants reflexfmt keeps on any input; checked by the fuzz harness and hypothesis tests.

- loads either returns a Reflex or raises ReflexFormatError with a spec section 13 code and an
  offset inside the input; nothing else escapes;
- validate never raises; it returns [] exactly when loads accepts, else its first finding is
  the error loads raised;
- an accepted file is canonical (dumps(loads(data)) == data), evaluates and steps a runtime.
"""

from __future__ import annotations

import reflexfmt
from reflexfmt.errors import ERROR_CODES

PROBE = (0.0, 1e3, -1.0, float("nan"), float("inf"), 5e-324, 1e300, 64.0, 2.5, -0.0)


def check(data: bytes) -> None:
    """Run loads and validate on one input and check the invariants."""
    try:
        reflex = reflexfmt.loads(data)
    except reflexfmt.ReflexFormatError as err:
        assert err.code in ERROR_CODES, err.code
        assert 0 <= err.offset <= len(data), (err.code, err.offset, len(data))
        findings = reflexfmt.validate(data)
        assert findings, "validate found nothing where loads failed"
        assert (findings[0].code, findings[0].offset) == (err.code, err.offset), findings[0]
        return
    assert reflexfmt.validate(data) == [], "validate found something where loads succeeded"
    assert reflexfmt.dumps(reflex) == data, "an accepted file is not canonical"
    reflex.evaluate(PROBE)
    reflexfmt.Runtime(reflex).step(PROBE)
