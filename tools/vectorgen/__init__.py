"""The independent generator of the NEM1 conformance vectors (driven by tools/gen_vectors.py).

A spec-only implementation of the writer, the canonical metadata emitter (spec 6.1) and the
evaluator (spec 10, 11); it imports neither reflexfmt nor reflexforge.

    canonical   numbers (shortest nearest floats) and the canonical metadata YAML
    documents   expansion, byte layout, encoding, "set" overrides and byte patches
    evaluation  quantization, trees, the runtime's hysteresis, expected outputs
    decoding    the expected decoding (reflex-inspect --json shape)
"""
