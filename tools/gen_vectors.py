#!/usr/bin/env python3
"""Generate the NEM1 conformance vectors (spec/vectors/) from spec/vectors/src/vectors.json.

This is an independent, spec-only implementation of the writer, the canonical metadata
emitter (spec 6.1) and the evaluator (spec 10, 11), in tools/vectorgen/ (canonical, documents,
evaluation, decoding): it does not import reflexfmt, so the vectors can grade reflexfmt as well
as any other implementation. This script is the driver: descriptions in, files out.

    python tools/gen_vectors.py [--out DIR]     (default: spec/vectors)

Descriptions are JSON (see spec/vectors/README.md, "Descriptions"): named base documents,
and cases that take a base, override fields ("set"), patch bytes ("patch"), and state the
expected verdict. The output is deterministic.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # beside this script, also when imported
from ksy_verdict import verdict as kaitai_verdict  # noqa: E402 - tools/ksy_verdict.py
from vectorgen.decoding import decoding  # noqa: E402 - tools/vectorgen/
from vectorgen.documents import (  # noqa: E402
    apply_patches,
    apply_set,
    encode,
    expand,
    layout,
    resolve,
)
from vectorgen.evaluation import expected_outputs  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "spec" / "vectors" / "src" / "vectors.json"
# Spec 9: the phase of each error code (framing stops a validator; E_METADATA_* is the part a
# non-validating runtime reader MAY skip, spec 6.1).
PHASES = dict.fromkeys(
    ("E_LIMIT", "E_TRUNCATED", "E_MAGIC", "E_VERSION", "E_COUNT", "E_TRAILING"), "framing"
)
PHASES["E_CRC"] = "integrity"


# ---- Driver ----------------------------------------------------------------------------------


def dump_json(doc: Any) -> bytes:
    """UTF-8 JSON with one item per line where short: stable for diffs and drift checks."""
    return (json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False) + "\n").encode()


def dump_expected(doc: Any) -> bytes:
    """A y_*.json: keys sorted and ASCII only, as in spec appendix A."""
    text = json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=True, allow_nan=False)
    return (text + "\n").encode()


def build(source: Path = SOURCE) -> dict[str, bytes]:
    """Every output file name -> bytes, manifest included."""
    spec = json.loads(source.read_text(encoding="utf-8"))
    bases = spec["bases"]
    files: dict[str, bytes] = {}
    manifest = []
    for case in spec["cases"]:
        vid = case["id"]
        doc = expand(apply_set(bases[case["base"]], case.get("set", {})))
        fields = layout(doc)
        data = apply_patches(encode(doc), case, fields)
        files[f"{vid}.reflex"] = data
        entry: dict[str, Any] = {"id": vid, "file": f"{vid}.reflex"}
        if vid.startswith("y_"):
            expected = {"decoding": decoding(doc, data), **expected_outputs(doc)}
            files[f"{vid}.json"] = dump_expected(expected)
            entry.update(result="accept", code=None, offset=None, expected=f"{vid}.json")
        else:
            at = case.get("at")
            entry.update(
                result="reject",
                code=case["code"],
                offset=None if at is None else resolve(at, fields),
                phase=PHASES.get(case["code"], "semantics"),
            )
        entry["kaitai"] = kaitai_verdict(data)
        if vid.startswith("y_") and entry["kaitai"] is not None:
            raise ValueError(f"{vid}: a valid file that spec/nem1.ksy rejects: {entry['kaitai']}")
        entry["comment"] = case["comment"]
        manifest.append(entry)
    doc = {"format": "NEM1", "spec": "spec/NEM1.md", "version": "1.0", "vectors": manifest}
    files["manifest.json"] = dump_json(doc)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "spec" / "vectors")
    args = parser.parse_args(argv)
    files = build()
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("*_*.reflex"):
        if old.name not in files:
            old.unlink()
    for old in args.out.glob("[yn]_*.json"):
        if old.name not in files:
            old.unlink()
    for name, data in sorted(files.items()):
        (args.out / name).write_bytes(data)
    print(f"{len(files)} files written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
