"""Real captures through every path: the compiled walkers equal the reference libraries
(scapy for pcap, python-pcapng for pcapng) record for record, and pcap, pcapng, converted
CSV and converted Parquet give the same trace, windows, features and training set
(the golden tests/data/captures/micro.training-set.csv)."""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np
import pytest

from reflexforge.cli import main
from reflexforge.ingest.options import IngestOptions
from reflexforge.ingest.read import capture_records, read_with_adjustments
from reflexforge.ingest.write import write_trace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from capture_builders import big_endian_pcap, pcap_to_pcapng  # noqa: E402
from capture_reference import pcap_records, pcapng_records  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # python-pcapng's own

DATA = Path(__file__).resolve().parents[1] / "data" / "captures"
PCAPS = ["micro.pcap", "nano.pcap", "oversize.pcap", "stepback.pcap.gz", "h2.pcap"]
PCAPNGS = ["two-interfaces.pcapng"]


def raw(name: str) -> bytes:
    data = (DATA / name).read_bytes()
    return gzip.decompress(data) if name.endswith(".gz") else data


@pytest.mark.parametrize("name", PCAPS)
def test_pcap_walker_equals_scapy(name):
    ts, wire, _, _ = capture_records(DATA / name)
    ref_ts, ref_wire = pcap_records(DATA / name)
    assert ts.shape[0] > 1000
    assert np.array_equal(ts, ref_ts) and np.array_equal(wire, ref_wire)


@pytest.mark.parametrize("name", PCAPNGS)
def test_pcapng_walker_equals_python_pcapng(name):
    ts, wire, iface, _ = capture_records(DATA / name)
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
    ts, wire, _, _ = capture_records(path)
    ref_ts, ref_wire = pcapng_records(path)
    assert ts.shape[0] == 8000
    assert np.array_equal(ts, ref_ts) and np.array_equal(wire, ref_wire)


def test_big_endian_pcap_equals_little_endian(tmp_path):
    path = tmp_path / "be.pcap"
    path.write_bytes(big_endian_pcap(raw("micro.pcap")))
    ts, wire, _, _ = capture_records(path)
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
    ts, _, _, _ = capture_records(DATA / "two-interfaces.pcapng")
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
    ts, wire, _, _ = capture_records(DATA / "oversize.pcap")
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


@pytest.mark.parametrize("bad", [False, True])
def test_check_reads_a_compressed_parquet_file(tmp_path: Path, capsys, bad: bool) -> None:
    """gzip around Parquet: every command reads it decompressed (spec/telemetry.md 5.1);
    check opened the compressed bytes as Parquet ('magic bytes not found', unreadable)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    size = np.full(1000, 64, np.int64)
    size[5] = 0 if bad else 64
    plain = tmp_path / "t.parquet"
    pq.write_table(pa.table({"ts_ns": np.arange(1000, dtype=np.int64) * 1_000_000,
                             "bytes": size}), plain)
    packed = tmp_path / "t.parquet.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert main(["check", str(packed)]) == (1 if bad else 0)
    out = capsys.readouterr().out
    assert out.startswith(f"{packed}: {'1 problem' if bad else 'OK'} (parquet (gzip-compressed), "
                          "1000 rows"), out
    assert ("E_CSV_VALUE: 1; first at row 6:bytes" in out) == bad
