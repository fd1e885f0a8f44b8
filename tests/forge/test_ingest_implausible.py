"""Valid but implausible telemetry gets a warning, from `check` and on stderr from every
command that reads it (spec/telemetry.md 7): sizes in kB (W_SIZE_UNIT), RTT samples in us or
ps (W_RTT_UNIT), a trace whose 200 ms windows are nearly all empty (W_SPARSE), capture
records captured longer than on the wire (W_CAPLEN); and the synthetic profiles and real
captures get none of them."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from reflexforge.cli import main

DATA = Path(__file__).resolve().parents[1] / "data" / "captures"
HOUR_NS = 3600 * 10**9


def _csv(path: Path, ts, size, rtt=None) -> Path:
    lines = ["ts_ns,bytes,rtt_ns"]
    for i, (t, b) in enumerate(zip(ts, size, strict=True)):
        r = "" if rtt is None or rtt[i] < 0 else str(int(rtt[i]))
        lines.append(f"{int(t)},{int(b)},{r}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _warned(path: Path, capsys) -> tuple[str, str]:
    """(check's report, convert's stderr); both exit as usual (1 and 0)."""
    assert main(["check", str(path)]) == 1
    report = capsys.readouterr().out
    assert main(["convert", str(path), "-o", str(path.with_suffix(".out.csv")), "-q"]) == 0
    return report, capsys.readouterr().err


def test_a_trace_of_101_packets_over_600_s_is_sparse(tmp_path, capsys):
    ts = np.linspace(0, 600 * 10**9, 101).astype(np.int64)
    report, err = _warned(_csv(tmp_path / "t.csv", ts, np.full(101, 1500)), capsys)
    for text in (report, err):
        assert "W_SPARSE: 101 of the 3001 windows of 200 ms hold a packet (3.37%; 0.168 " \
               "packets/s over 600 s, the largest gap 6 s)" in text
    assert "1 problem (" in report


def test_ten_hours_of_silence_after_the_traffic_is_sparse(tmp_path, capsys):
    """60 s at 1000 packets/s, then one packet 10 h later: 25 packets/s on average, but
    0.17 % of the windows hold a packet."""
    ts = np.append(np.arange(0, 60 * 10**9, 10**6), 60 * 10**9 + 10 * HOUR_NS)
    report, err = _warned(_csv(tmp_path / "t.csv", ts, np.full(ts.shape[0], 200)), capsys)
    for text in (report, err):
        assert "W_SPARSE: 301 of the 180301 windows" in text and "largest gap 36000 s" in text


def test_a_silent_hour_in_the_middle_is_sparse(tmp_path, capsys):
    """300 s, an hour of silence, 300 s, at 100 packets/s: 14 % of the windows hold a packet
    and 14 packets/s on average, so only the gap (over a minute) tells (a tester's case)."""
    half = np.arange(0, 300 * 10**9, 10**7)
    ts = np.concatenate((half, half + 300 * 10**9 + HOUR_NS))
    report, err = _warned(_csv(tmp_path / "t.csv", ts, np.full(ts.shape[0], 200)), capsys)
    for text in (report, err):
        assert "W_SPARSE: " in text and "largest gap 3600.01 s" in text


def test_sizes_in_kilobytes(tmp_path, capsys):
    ts = np.arange(0, 10**9, 10**6)
    size = np.where(np.arange(ts.shape[0]) % 3, 1, 2)  # 1.5 kB and 0.06 kB rounded up
    report, err = _warned(_csv(tmp_path / "t.csv", ts, size), capsys)
    for text in (report, err):
        assert "W_SIZE_UNIT: the median packet is 1 B, below 20 B" in text and "kB" in text
    few = _csv(tmp_path / "few.csv", ts[:99] * 10, size[:99])  # below 100 packets: not judged
    assert main(["check", str(few)]) == 0, capsys.readouterr().out


@pytest.mark.parametrize(("value", "words"), [
    (40, "microseconds (multiply by 1000)"),  # 40 us
    (50 * 10**9, "picoseconds (divide by 1000)"),  # 50 ms
    (1_796_611_466_863_808_000, "a timestamp and not an RTT"),
])
def test_rtt_samples_in_another_unit(tmp_path, capsys, value, words):
    ts = np.arange(0, 10**9, 10**6)
    rtt = np.where(np.arange(ts.shape[0]) % 50 == 0, value, -1)  # 2 % of rows
    report, err = _warned(_csv(tmp_path / "t.csv", ts, np.full(ts.shape[0], 1500), rtt),
                          capsys)
    for text in (report, err):
        assert "W_RTT_UNIT: the median RTT sample is" in text and words in text


def test_a_record_captured_longer_than_on_the_wire(tmp_path, capsys):
    micro = bytearray((DATA / "micro.pcap").read_bytes())
    incl = struct.unpack_from("<I", micro, 24 + 8)[0]
    struct.pack_into("<I", micro, 24 + 12, incl - 1)  # the first record: orig = incl - 1
    path = tmp_path / "m.pcap"
    path.write_bytes(bytes(micro))
    report, err = _warned(path, capsys)
    for text in (report, err):
        assert "W_CAPLEN: 1 records have a captured length above their original (wire) " \
               "length (the first at byte offset 24)" in text


@pytest.mark.parametrize("profile", ["mixed", "flows", "onoff", "incast", "ramp", "poisson",
                                     "diurnal"])
def test_synthetic_profiles_are_plausible(tmp_path, capsys, profile):
    path = tmp_path / "t.csv"
    assert main(["synth", "--profile", profile, "--duration", "10", "--seed", "1",
                 "-o", str(path), "-q"]) == 0
    assert main(["check", str(path)]) == 0, capsys.readouterr().out
    assert main(["check", str(DATA / "micro.pcap")]) == 0, capsys.readouterr().out
