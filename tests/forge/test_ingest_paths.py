"""Real captures through every path: the compiled walkers equal the reference libraries
(scapy for pcap, python-pcapng for pcapng) record for record, and pcap, pcapng, converted
CSV and converted Parquet give the same trace, windows, features and training set
(the golden tests/data/captures/micro.training-set.csv)."""

from __future__ import annotations

import gzip
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from reflexforge.cli import main
from reflexforge.ingest.quirks import IngestOptions
from reflexforge.ingest.read import capture_records, read_with_adjustments
from reflexforge.ingest.write import write_trace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from capture_reference import pcap_records, pcapng_records  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # python-pcapng's own

DATA = Path(__file__).resolve().parents[1] / "data" / "captures"
PCAPS = ["micro.pcap", "nano.pcap", "oversize.pcap", "stepback.pcap.gz"]
PCAPNGS = ["two-interfaces.pcapng"]


def pcap_to_pcapng(pcap: bytes, big: bool = False, tsresol: int = 9,
                   simple_every: int = 0, offset_s: int = 0) -> bytes:
    """The records of a little-endian microsecond/nanosecond pcap as a pcapng section of one
    interface (if_tsresol ``tsresol``: 10^-k, or 2^-(k & 0x7f) with the high bit), EPBs,
    every ``simple_every``-th packet an SPB, optional if_tsoffset ``offset_s``."""
    order = ">" if big else "<"
    magic = pcap[:4]
    unit_ns = 1 if magic == b"\x4d\x3c\xb2\xa1" else 1000
    snaplen, link = struct.unpack_from("<II", pcap, 16)

    def block(kind: int, body: bytes) -> bytes:
        body += b"\0" * (-len(body) % 4)
        length = 12 + len(body)
        return struct.pack(order + "II", kind, length) + body + struct.pack(order + "I", length)

    options = struct.pack(order + "HH", 9, 1) + bytes([tsresol]) + b"\0\0\0"
    if offset_s:
        options += struct.pack(order + "HHq", 14, 8, offset_s)
    options += struct.pack(order + "HH", 0, 0)
    out = block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack(order + "HHI", link, 0, snaplen) + options)
    pos, k = 24, 0
    while pos + 16 <= len(pcap):
        sec, frac, incl, orig = struct.unpack_from("<IIII", pcap, pos)
        data = pcap[pos + 16 : pos + 16 + incl]
        ns = sec * 10**9 + frac * unit_ns - offset_s * 10**9
        if tsresol & 0x80:
            units = (ns << (tsresol & 0x7F)) // 10**9
        else:
            units = ns * 10**tsresol // 10**9
        if simple_every and k % simple_every == simple_every - 1:
            out += block(3, struct.pack(order + "I", orig) + data)
        else:
            out += block(6, struct.pack(order + "IIIII", 0, units >> 32, units & 0xFFFFFFFF,
                                        incl, orig) + data)
        pos += 16 + incl
        k += 1
    return out


def big_endian_pcap(pcap: bytes) -> bytes:
    """The same little-endian pcap with every header field big-endian."""
    magic, major, minor, zone, sigfigs, snap, link = struct.unpack_from("<IHHiIII", pcap)
    out = bytearray(struct.pack(">IHHiIII", magic, major, minor, zone, sigfigs, snap, link))
    pos = 24
    while pos + 16 <= len(pcap):
        fields = struct.unpack_from("<IIII", pcap, pos)
        out += struct.pack(">IIII", *fields) + pcap[pos + 16 : pos + 16 + fields[2]]
        pos += 16 + fields[2]
    return bytes(out)


def raw(name: str) -> bytes:
    data = (DATA / name).read_bytes()
    return gzip.decompress(data) if name.endswith(".gz") else data


@pytest.mark.parametrize("name", PCAPS)
def test_pcap_walker_equals_scapy(name):
    ts, wire, _ = capture_records(DATA / name)
    ref_ts, ref_wire = pcap_records(DATA / name)
    assert ts.shape[0] > 1000
    assert np.array_equal(ts, ref_ts) and np.array_equal(wire, ref_wire)


@pytest.mark.parametrize("name", PCAPNGS)
def test_pcapng_walker_equals_python_pcapng(name):
    ts, wire, iface = capture_records(DATA / name)
    ref_ts, ref_wire = pcapng_records(DATA / name)
    assert np.array_equal(ts, ref_ts) and np.array_equal(wire, ref_wire)
    assert set(iface.tolist()) == {0, 1}  # two interfaces really used


@pytest.mark.parametrize(("variant", "kwargs"), [
    ("ns, little-endian", {}),
    ("us resolution, big-endian section", {"tsresol": 6, "big": True}),
    ("2^-30 s units, simple packet blocks", {"tsresol": 0x80 | 30, "simple_every": 7}),
    ("if_tsoffset", {"offset_s": 1_700_000_000}),
])
def test_pcapng_variants_equal_python_pcapng(tmp_path, variant, kwargs):
    path = tmp_path / "v.pcapng"
    path.write_bytes(pcap_to_pcapng(raw("nano.pcap"), **kwargs))
    ts, wire, _ = capture_records(path)
    ref_ts, ref_wire = pcapng_records(path)
    assert ts.shape[0] == 8000
    assert np.array_equal(ts, ref_ts) and np.array_equal(wire, ref_wire)


def test_big_endian_pcap_equals_little_endian(tmp_path):
    path = tmp_path / "be.pcap"
    path.write_bytes(big_endian_pcap(raw("micro.pcap")))
    ts, wire, _ = capture_records(path)
    ref_ts, ref_wire = pcap_records(DATA / "micro.pcap")
    assert np.array_equal(ts, ref_ts) and np.array_equal(wire, ref_wire)
    assert np.array_equal(pcap_records(path)[0], ref_ts)


def _same_trace(a, b):
    assert np.array_equal(a.ts_ns, b.ts_ns)
    assert np.array_equal(a.size, b.size)
    for x, y in zip(a.rtt_samples, b.rtt_samples, strict=True):
        assert np.array_equal(x, y)


def test_every_path_gives_the_golden_training_set(tmp_path):
    """pcap, pcapng (ns, via SPBs too), gzip and zstd around them, converted CSV and
    Parquet: one trace, one set of windows and features, the golden training set."""
    import zstandard

    from reflexforge.config import ForgeOptions
    from reflexforge.features import window_starts
    from reflexforge.labelling import make_training_set
    from reflexforge.trainset import write_training_set

    pcap = DATA / "micro.pcap"
    base, adjust = read_with_adjustments(pcap)
    assert adjust.oversize_records == 76 and adjust.rows_added == 2824 - 76
    paths = {"pcapng": tmp_path / "m.pcapng", "pcap.zst": tmp_path / "m.pcap.zst",
             "pcapng.gz named csv": tmp_path / "m.csv"}
    paths["pcapng"].write_bytes(pcap_to_pcapng(pcap.read_bytes()))
    paths["pcap.zst"].write_bytes(zstandard.ZstdCompressor().compress(pcap.read_bytes()))
    paths["pcapng.gz named csv"].write_bytes(gzip.compress(paths["pcapng"].read_bytes()))
    for fmt in ("csv", "csv.gz", "parquet"):
        paths[fmt] = tmp_path / f"m.{fmt}"
        write_trace(base, paths[fmt])
    for label, path in paths.items():
        trace, _ = read_with_adjustments(path)
        _same_trace(trace, base)
        assert np.array_equal(window_starts(trace.ts_ns), window_starts(base.ts_ns)), label
    golden = (DATA / "micro.training-set.csv").read_bytes()
    out = tmp_path / "ts.csv"
    for label in ("pcap", "parquet", "pcapng"):
        path = pcap if label == "pcap" else paths[label]
        assert main(["label", str(path), "-o", str(out), "--workers", "1", "--quiet"]) == 0
        assert out.read_bytes() == golden, label
    trace, _ = read_with_adjustments(paths["csv"])
    training_set, _ = make_training_set(trace, ForgeOptions(workers=1))
    write_training_set(out, training_set)
    assert out.read_bytes() == golden


def test_convert_is_deterministic_and_roundtrips(tmp_path):
    src = DATA / "stepback.pcap.gz"
    outs = []
    for i in range(2):
        out = tmp_path / f"o{i}.parquet"
        assert main(["convert", str(src), "-o", str(out), "--quiet"]) == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    back = tmp_path / "back.csv"
    assert main(["convert", str(tmp_path / "o0.parquet"), "-o", str(back), "--quiet"]) == 0
    _same_trace(read_with_adjustments(back)[0], read_with_adjustments(src)[0])


def test_two_interface_pcapng_steps_back_and_is_reordered():
    trace, adjust = read_with_adjustments(DATA / "two-interfaces.pcapng")
    assert adjust.largest_step_back_ns == 89_603_394 and adjust.reordered_rows > 0
    assert bool((np.diff(trace.ts_ns) >= 0).all())
    ts, _, _ = capture_records(DATA / "two-interfaces.pcapng")
    assert np.array_equal(np.unique(trace.ts_ns), np.unique(ts))


def test_stepback_reorder_and_its_limit(tmp_path, capsys):
    trace, adjust = read_with_adjustments(DATA / "stepback.pcap.gz")
    assert adjust.largest_step_back_ns == 9000 and adjust.reordered_rows == 3
    assert bool((np.diff(trace.ts_ns) >= 0).all())
    out = tmp_path / "out.csv"
    assert main(["convert", str(DATA / "stepback.pcap.gz"), "-o", str(out),
                 "--reorder-window", "5us", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "E_CSV_ORDER" in err and "--reorder-window" in err
    assert "record 3000 at byte offset 316994" in err and not out.exists()


@pytest.mark.parametrize(("mode", "rows", "largest"), [
    ("split", 27269, 1500), ("clamp", 3000, 1500)])
def test_oversize_modes(mode, rows, largest):
    trace, adjust = read_with_adjustments(DATA / "oversize.pcap",
                                          IngestOptions(oversize=mode))
    assert trace.rows == rows and int(trace.size.max()) == largest
    assert adjust.oversize_records == 1308
    ts, wire, _ = capture_records(DATA / "oversize.pcap")
    if mode == "split":  # bytes are kept, at each packet's own time
        assert int(trace.size.astype(np.int64).sum()) == int(wire.sum())


def test_oversize_error_names_the_record(tmp_path, capsys):
    out = tmp_path / "out.csv"
    assert main(["convert", str(DATA / "oversize.pcap"), "-o", str(out), "--oversize",
                 "error", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "E_CSV_VALUE" in err and "record " in err and "65549" in err and not out.exists()


def test_filter_and_rtt(tmp_path):
    both, _ = read_with_adjustments(DATA / "micro.pcap", IngestOptions(rtt="tcp"))
    redis, adjust = read_with_adjustments(DATA / "micro.pcap",
                                          IngestOptions(bpf="tcp port 6379", rtt="tcp"))
    assert 0 < redis.rows < both.rows and adjust.filtered_out > 0
    at, values = both.rtt_samples
    assert at.shape[0] > 100 and bool((values >= 0).all()) and bool((np.diff(at) > 0).all())
    assert float(np.median(values)) < 1e6  # loopback: well under a millisecond
