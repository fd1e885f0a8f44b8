"""The quirk options on CSV telemetry, zstd around CSV, and --rtt tcp on hand-made TCP
exchanges (Karn's rule, sequence wrap-around, both directions, too many outstanding
segments) and with tables that must grow."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from reflexforge.cli import main
from reflexforge.errors import ForgeError
from reflexforge.ingest import rtt
from reflexforge.ingest.options import IngestOptions
from reflexforge.ingest.read import read_with_adjustments

DATA = Path(__file__).parent.parent / "data" / "captures"


def _csv(tmp_path, rows: list[tuple], name: str = "t.csv"):
    path = tmp_path / name
    text = "ts_ns,bytes,rtt_ns\n" + "".join(
        f"{t},{b},{'' if r is None else r}\n" for t, b, r in rows)
    path.write_text(text)
    return path


def test_csv_reorder_window(tmp_path):
    rows = [(0, 100, None), (10_000_000, 200, 7), (5_000_000, 300, 9), (300_000_000, 400, None)]
    path = _csv(tmp_path, rows)
    with pytest.raises(ForgeError) as info:  # CSV is strict unless asked
        read_with_adjustments(path)
    assert info.value.code == "E_CSV_ORDER" and "--reorder-window 5ms" in info.value.message
    trace, adjust = read_with_adjustments(path, IngestOptions(reorder_window_ns=5_000_000))
    assert trace.ts_ns.tolist() == [0, 5_000_000, 10_000_000, 300_000_000]
    assert trace.size.tolist() == [100, 300, 200, 400]
    assert trace.rtt_ns.tolist() == [-1, 9, 7, -1]  # samples move with their rows
    assert adjust.reordered_rows == 1 and adjust.largest_step_back_ns == 5_000_000
    with pytest.raises(ForgeError) as info:
        read_with_adjustments(path, IngestOptions(reorder_window_ns=4_999_999))
    assert info.value.code == "E_CSV_ORDER" and info.value.line == 4


def test_csv_oversize_split_and_clamp(tmp_path):
    path = _csv(tmp_path, [(0, 2500, 11), (100, 40, 5), (300_000_000, 1000, None)])
    split, adjust = read_with_adjustments(path, IngestOptions(oversize="split", mtu=1000))
    assert split.size.tolist() == [1000, 1000, 500, 40, 1000]
    assert split.ts_ns.tolist() == [0, 0, 0, 100, 300_000_000]
    assert split.rtt_ns.tolist() == [11, -1, -1, 5, -1]  # a sample stays on its record's row
    assert adjust.oversize_records == 1 and adjust.rows_added == 2
    clamp, adjust = read_with_adjustments(path, IngestOptions(oversize="clamp", mtu=1000))
    assert clamp.size.tolist() == [1000, 40, 1000] and adjust.bytes_clamped == 1500
    assert read_with_adjustments(path)[0].size.tolist() == [2500, 40, 1000]


def test_zstd_csv_and_summary_line(tmp_path, capsys):
    import zstandard

    plain = _csv(tmp_path, [(0, 100, None), (10, 2000, None), (300_000_000, 1, None)])
    packed = tmp_path / "t.csv.zst"
    packed.write_bytes(zstandard.ZstdCompressor().compress(plain.read_bytes()))
    out = tmp_path / "o.csv"
    assert main(["convert", str(packed), "-o", str(out), "--oversize", "split"]) == 0
    err = capsys.readouterr().err
    assert "adjusted: split 1 packets above --mtu 1500 B into 2 rows" in err
    assert out.read_text().splitlines()[1:4] == ["0,100,", "10,1500,", "10,500,"]


# --- --rtt tcp on hand-made packets ---------------------------------------------------------

A, B = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])


def _tcp(src, dst, sport, dport, seq, ack, flags, payload: int) -> bytes:
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq % 2**32, ack % 2**32, 5 << 4, flags,
                      65535, 0, 0)
    total = 20 + 20 + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, total, 0, 0, 64, 6, 0, src, dst)
    return b"\0" * 12 + b"\x08\x00" + ip + tcp  # Ethernet header, captured to the TCP header


def _pcap(tmp_path, packets: list[tuple[int, bytes, int]]):
    out = struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 128, 1)  # nanosecond pcap
    for t, data, wire in packets:
        out += struct.pack("<IIII", t // 10**9, t % 10**9, len(data), wire) + data
    path = tmp_path / "tcp.pcap"
    path.write_bytes(out)
    return path


def test_rtt_tcp_karn_and_wraparound(tmp_path):
    ms = 1_000_000
    near_wrap = 2**32 - 50  # the second exchange crosses the 32-bit sequence wrap
    packets = [
        (0, _tcp(A, B, 1000, 80, 1000, 0, 0x18, 100), 154),          # data 1000..1100
        (5 * ms, _tcp(A, B, 1000, 80, 1000, 0, 0x18, 100), 154),     # retransmitted
        (6 * ms, _tcp(B, A, 80, 1000, 0, 1100, 0x10, 0), 54),         # ACK: Karn, no sample
        # another connection, whose data crosses the 32-bit sequence wrap
        (10 * ms, _tcp(A, B, 1001, 80, near_wrap, 0, 0x18, 100), 154),
        (10 * ms + 400_000, _tcp(B, A, 80, 1001, 0, near_wrap + 100, 0x10, 0), 54),  # 0.4 ms
        (20 * ms, _tcp(B, A, 80, 1001, 7, near_wrap + 100, 0x18, 10), 64),  # other direction
        (20 * ms + 250_000, _tcp(A, B, 1001, 80, near_wrap + 100, 17, 0x10, 0), 54),  # 0.25 ms
        (300 * ms, _tcp(A, B, 1001, 80, near_wrap + 100, 17, 0x10, 0), 54),  # dup ACK: none
    ]
    path = _pcap(tmp_path, packets)
    trace, adjust = read_with_adjustments(path, IngestOptions(rtt="tcp"))
    assert trace.rtt_ns.tolist() == [-1, -1, -1, -1, 400_000, -1, 250_000, -1]
    assert adjust.rtt_samples == 2
    only_a, _ = read_with_adjustments(path, IngestOptions(rtt="tcp", bpf="src host 10.0.0.1"))
    at, values = only_a.rtt_samples  # B's ACK left out: its sample goes to the next row kept
    assert only_a.rows == 5 and at.tolist() == [3] and values.tolist() == [400_000]  # first
    assert np.array_equal(read_with_adjustments(path)[0].rtt_samples[0], np.empty(0))


def test_capture_options_on_csv_are_refused(tmp_path):
    path = _csv(tmp_path, [(0, 100, None), (300_000_000, 1, None)])
    for options in (IngestOptions(bpf="tcp"), IngestOptions(rtt="tcp")):
        with pytest.raises(ForgeError) as info:
            read_with_adjustments(path, options)
        assert info.value.code == "E_USAGE" and "captures only" in info.value.message


def test_rtt_tcp_forgets_the_oldest_of_too_many_outstanding_segments(tmp_path):
    us = 1_000
    sent = rtt.MAX_OUTSTANDING + 1  # one-byte segments 0..4096: the first is forgotten
    packets = [(k * us, _tcp(A, B, 1000, 80, k, 0, 0x18, 1), 55) for k in range(sent)]
    t = sent * us
    packets += [
        (t, _tcp(B, A, 80, 1000, 0, 1, 0x10, 0), 54),               # acks the forgotten one
        (t + 7 * us, _tcp(B, A, 80, 1000, 0, 3, 0x10, 0), 54),      # acks segments 1 and 2
        (300_000 * us, _tcp(B, A, 80, 1000, 0, 3, 0x10, 0), 54),   # dup ACK: none
    ]
    trace, adjust = read_with_adjustments(_pcap(tmp_path, packets), IngestOptions(rtt="tcp"))
    at, values = trace.rtt_samples
    assert at.tolist() == [sent + 1] and values.tolist() == [t + 7 * us - 2 * us]
    assert adjust.rtt_samples == 1


def test_rtt_tcp_tables_that_grow_give_the_same_samples(tmp_path, monkeypatch):
    """The direction and segment tables start small and double when full; starting them at
    one entry each makes every record of these captures grow one, with the same samples."""
    paths = [DATA / "micro.pcap", DATA / "nano.pcap"]
    before = [read_with_adjustments(p, IngestOptions(rtt="tcp"))[0].rtt_samples for p in paths]
    monkeypatch.setattr(rtt, "_SLOTS0", 1)
    monkeypatch.setattr(rtt, "_NODES0", 1)
    after = [read_with_adjustments(p, IngestOptions(rtt="tcp"))[0].rtt_samples for p in paths]
    for (a_at, a_ns), (b_at, b_ns) in zip(before, after, strict=True):
        assert a_at.shape[0] > 100
        assert np.array_equal(a_at, b_at) and np.array_equal(a_ns, b_ns)


def test_check_counts_the_rows_a_split_capture_becomes(tmp_path, capsys):
    """`check` of a capture whose records are split said '3000 rows' where `convert` wrote
    6000: it names both now, the records and the rows every other command reads."""
    capture = tmp_path / "big.pcap"
    with open(capture, "wb") as handle:
        handle.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        handle.write(b"".join(struct.pack("<IIII", 1 + i // 1000, (i % 1000) * 1000, 0, 3000)
                              for i in range(3000)))
    assert main(["check", str(capture)]) == 0
    assert f"{capture}: OK (pcap, 3000 records -> 6000 rows, 2.999 s)" in capsys.readouterr().out
    assert main(["convert", str(capture), "-o", str(tmp_path / "t.csv"), "-q"]) == 0
    assert len((tmp_path / "t.csv").read_text().splitlines()) == 6001
    assert main(["check", str(capture), "--oversize", "clamp"]) == 0
    assert "OK (pcap, 3000 rows, 2.999 s)" in capsys.readouterr().out


def test_check_warns_of_the_reordered_trace_as_the_commands_do(tmp_path, capsys):
    """check computed the warnings' figures on the rows as stored; the commands see them
    reordered (--reorder-window), so the largest gap said 65 s in check and 60 s elsewhere
    (rows at 0, 55 s, 50 s, 115 s)."""
    path = _csv(tmp_path, [(0, 100, None), (55 * 10**9, 100, None), (50 * 10**9, 100, None),
                           (115 * 10**9, 100, None)])
    assert main(["check", str(path), "--reorder-window", "10s"]) == 1
    checked = [line.strip() for line in capsys.readouterr().out.splitlines()
               if "W_SPARSE" in line]
    assert main(["convert", str(path), "-o", str(tmp_path / "t.parquet"), "--reorder-window",
                 "10s"]) == 0
    read = [line.split(": ", 1)[1] for line in capsys.readouterr().err.splitlines()
            if "W_SPARSE" in line]
    assert len(checked) == 1 and checked == read and "the largest gap 60 s" in read[0]
