"""Bad and implausible input of the new paths (captures, Parquet, check): one line naming the
file, the place and the problem, a code of spec/telemetry.md, exit 2, no output file; and
hypothesis mutations of real captures that only ever give a trace or a ForgeError."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from capture_builders import pcap_from_sizes, pcap_to_pcapng
from hypothesis import given
from hypothesis import strategies as st
from mutation_settings import mutation_settings

from reflexforge.cli import main
from reflexforge.errors import CODES, ForgeError
from reflexforge.ingest.options import IngestOptions
from reflexforge.ingest.read import read_with_adjustments

DATA = Path(__file__).resolve().parents[1] / "data" / "captures"
MICRO = (DATA / "micro.pcap").read_bytes()
FIRST = 24 + 16 + struct.unpack_from("<I", MICRO, 24 + 8)[0]  # end of the first record


def _pcapng_head(records: int = 300) -> bytes:
    pos = 24
    for _ in range(records):
        pos += 16 + struct.unpack_from("<I", MICRO, pos + 8)[0]
    return pcap_to_pcapng(MICRO[:pos])


def _convert(tmp_path, data: bytes, capsys, name: str = "in.pcap", *extra: str):
    src = tmp_path / name
    src.write_bytes(data)
    out = tmp_path / "out.csv"
    code = main(["convert", str(src), "-o", str(out), "--quiet", *extra])
    err = capsys.readouterr().err.strip()
    return code, err, out


def _patch(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


PCAP_CASES = {
    "record length of 4 GiB": (_patch(MICRO, FIRST + 8, "<I", 0xFFFFFFFF), "E_CAPTURE",
                               f"record 2 at byte offset {FIRST}: captured length 4294967295"),
    "truncated last record": (MICRO[:-5], "E_CAPTURE", "the file ends after"),
    "header cut short": (MICRO[:10], "E_CAPTURE", "pcap file header cut short"),
    "microseconds of a second or more": (_patch(MICRO, FIRST + 4, "<I", 1_000_000), "E_CAPTURE",
                                         "microseconds field 1000000"),
    "wire length 0": (_patch(MICRO, FIRST + 12, "<I", 0), "E_CSV_VALUE", "record 2"),
    "wire length of 4 GiB": (_patch(MICRO, FIRST + 12, "<I", 0xFFFFFFFF), "E_CAPTURE",
                             f"record 2 at byte offset {FIRST}: original (wire) length "
                             "4294967295 exceeds the largest allowed (524288"),
    "wire length above 512 KiB": (_patch(MICRO, FIRST + 12, "<I", 524289), "E_CAPTURE",
                                  f"record 2 at byte offset {FIRST}: original (wire) length "
                                  "524289 exceeds"),
    "gzip cut short": (gzip.compress(MICRO)[:-100], "E_CAPTURE", ""),
}


@pytest.mark.parametrize("case", sorted(PCAP_CASES))
def test_bad_pcap(tmp_path, capsys, case):
    data, code, words = PCAP_CASES[case]
    status, err, out = _convert(tmp_path, data, capsys)
    assert status == 2 and not out.exists()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert err.startswith(str(tmp_path / "in.pcap")) and f" {code}: " in err and words in err


def test_bad_pcapng(tmp_path, capsys):
    good = _pcapng_head()
    shb = struct.unpack_from("<I", good, 4)[0]
    idb = struct.unpack_from("<I", good, shb + 4)[0]
    epb = shb + idb
    epb2 = epb + struct.unpack_from("<I", good, epb + 4)[0]
    cases = {
        "block length past the end": (_patch(good, epb + 4, "<I", 0x7FFFFFF0), "exceeds"),
        "plausible length past the end": (good[:-8], "the file ends after"),
        "length not a multiple of 4": (_patch(good, epb + 4, "<I", 33), "multiple of 4"),
        "trailer differs": (_patch(good, epb + struct.unpack_from("<I", good, epb + 4)[0] - 4,
                                   "<I", 1234), "trailing length"),
        "unknown interface": (_patch(good, epb + 8, "<I", 7), "interface"),
        "wire length of 4 GiB": (_patch(good, epb + 24, "<I", 0xFFFFFFFF),
                                 f"block at byte offset {epb} (after 0 packets): original "
                                 "(wire) length 4294967295 exceeds the largest allowed"),
        "simple packet of 1 MiB": (good[:epb2] + struct.pack("<III", 3, 20, 1 << 20) + b"\0" * 4
                                   + struct.pack("<I", 20) + good[epb2:],
                                   "(after 1 packets): original (wire) length 1048576 exceeds"),
        "simple packet first": (good[:epb] + struct.pack("<III", 3, 20, 60) + b"\0" * 4
                                + struct.pack("<I", 20) + good[epb:], "simple packet block"),
    }
    status, err, out = _convert(tmp_path, good[shb:], capsys, "in.pcapng")  # no SHB: no magic
    assert status == 2 and "E_CSV_ENCODING" in err and "pcapng" in err and "starts 01 00" in err
    for case, (data, words) in cases.items():
        status, err, out = _convert(tmp_path, data, capsys, "in.pcapng")
        assert status == 2 and not out.exists(), case
        assert err.count("\n") == 0 and " E_CAPTURE: " in err and words in err, (case, err)
        assert "byte offset" in err, case


def test_wire_lengths_cannot_amplify(tmp_path, capsys):
    """A 16-byte record saying 4 GiB on the wire would be 2.86 million rows under --oversize
    split: 1000 of them are refused at the first, by check and convert alike, before any row
    is allocated; 524288 bytes (the limit, the largest GSO packet) still splits."""
    head = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    amp = head + b"".join(struct.pack("<IIII", 1 + i, 0, 0, 0xFFFFFFFF) for i in range(1000))
    src = tmp_path / "amp1k.pcap"
    src.write_bytes(amp)
    assert main(["check", str(src)]) == 2
    err = capsys.readouterr().out + capsys.readouterr().err
    assert "E_CAPTURE: record 1 at byte offset 24: original (wire) length 4294967295" in err
    status, err, out = _convert(tmp_path, amp, capsys, "amp1k.pcap")
    assert status == 2 and " E_CAPTURE: record 1 at byte offset 24" in err and not out.exists()
    limit = head + struct.pack("<IIII", 1, 0, 0, 524288) + struct.pack("<IIII", 2, 0, 0, 60)
    trace, adjust = read_with_adjustments(_write(tmp_path / "limit.pcap", limit))
    assert trace.rows == 350 + 1 and adjust.largest_packet == 524288


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_parquet_bad_input(tmp_path, capsys):
    cases = {
        "string ts_ns": (pa.table({"ts_ns": ["0", "5"], "bytes": [1, 2]}), "E_CSV_COLUMN",
                         "type string"),
        "float ts_ns (seconds)": (pa.table({"ts_ns": [0.5, 1.0], "bytes": [1, 2]}),
                                  "E_CSV_COLUMN", "seconds; multiply by 1e9"),
        "missing bytes": (pa.table({"ts_ns": [0, 5]}), "E_CSV_COLUMN", "'bytes'"),
        "null bytes": (pa.table({"ts_ns": [0, 300_000_000], "bytes": [1, None]}),
                       "E_CSV_VALUE", "row 2"),
        "bytes too large": (pa.table({"ts_ns": [0, 300_000_000], "bytes": [70000, 2]}),
                            "E_CSV_VALUE", "row 1"),
        "step back": (pa.table({"ts_ns": [0, 300_000_000, 5], "bytes": [1, 2, 3]}),
                      "E_CSV_ORDER", "row 3"),
    }
    for case, (table, code, words) in cases.items():
        src = tmp_path / "in.parquet"
        pq.write_table(table, src)
        out = tmp_path / "out.csv"
        assert main(["convert", str(src), "-o", str(out), "--quiet"]) == 2, case
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and f" {code}: " in err and words in err, (case, err)
        assert not out.exists()
    status, err, _ = _convert(tmp_path, b"PAR1" + b"\0" * 100, capsys, "x.parquet")
    assert status == 2 and "E_CSV_ENCODING" in err and "Parquet" in err


def test_float_seconds_in_csv_name_the_units(tmp_path, capsys):
    status, err, _ = _convert(tmp_path, b"ts_ns,bytes\n1796066243.645159,100\n", capsys,
                              "t.csv")
    assert status == 2 and "E_CSV_VALUE" in err and "seconds" in err and "1e9" in err


def test_wrong_names_are_recognised(tmp_path, capsys):
    """A pcap named .csv and a gzip CSV named .csv are read by content, with a note."""
    status, err, out = _convert(tmp_path, MICRO, capsys, "capture.csv")
    assert status == 0 and "note: the name says csv but the content is pcap" in err
    text = b"ts_ns,bytes\n0,1\n300000000,1\n"
    status, err, out = _convert(tmp_path, gzip.compress(text), capsys, "t.csv")
    assert status == 0 and "gzip-compressed" in err and out.read_bytes().startswith(b"ts_ns")


def test_plausibility_warnings(tmp_path, capsys):
    """Microseconds in ts_ns: 1.2 M packets in 0.66 s; zero gaps; never silent, exit 0."""
    n = 1_200_000
    ts = (np.arange(n, dtype=np.int64) // 2) * 1100  # 11 minutes in us, read as ns
    src = tmp_path / "us.parquet"
    pq.write_table(pa.table({"ts_ns": ts, "bytes": np.full(n, 1400, np.int64)}), src)
    out = tmp_path / "o.parquet"
    assert main(["convert", str(src), "-o", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "W_SPAN" in err and "W_RATE" in err and "W_ZERO_GAP" in err and "microseconds" in err
    assert main(["check", str(src)]) == 1
    report = capsys.readouterr().out
    assert "W_SPAN" in report and "3 problems" in report
    short = tmp_path / "short.parquet"  # the same in a span below one window: named too
    pq.write_table(pa.table({"ts_ns": ts // 10, "bytes": np.full(n, 1400, np.int64)}), short)
    assert main(["convert", str(short), "-o", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "E_TRACE_SHORT" in err and "nanoseconds" in err



def _bursts(tmp_path, burst_bytes: int):
    """A 20 s trace at 50,000 packets/s of 100 B, with a 2 s burst of ``burst_bytes`` B
    packets at 1.5 M packets/s (18 Gb/s for 1500 B) from 10 s."""
    quiet = np.arange(0, 20_000_000_000, 20_000, dtype=np.int64)
    burst = np.arange(10_000_000_000, 12_000_000_000, 667, dtype=np.int64)
    ts = np.concatenate([quiet, burst])
    size = np.concatenate([np.full(quiet.shape[0], 100), np.full(burst.shape[0], burst_bytes)])
    order = np.argsort(ts, kind="stable")
    path = tmp_path / f"burst{burst_bytes}.parquet"
    pq.write_table(pa.table({"ts_ns": ts[order], "bytes": size[order]}), path)
    return path


def test_a_link_slower_than_the_traffic_is_named(tmp_path, capsys):
    """2 s at 18 Gb/s on the default 10 Gb/s link: a backlog of 2 s x 8 Gb/s = 1.6 s builds,
    so the burst's packets and those after it wait behind the link longer than any batching
    delay and every policy's p95 would be that queue (W_OVERLOAD, naming --link-bps); not
    with --link-bps 100 Gb/s, nor when the burst fits the link, nor when the mean rate is
    already above it (W_RATE says that)."""
    path = _bursts(tmp_path, 1500)
    assert main(["check", str(path)]) == 1
    report = capsys.readouterr().out
    assert "W_OVERLOAD: at 10 Gb/s (--link-bps) the link alone makes" in report
    assert "79.5% of packets wait more than 4 ms" in report and "W_RATE" not in report
    assert "its backlog reaches 1606 ms at 11.9 s" in report
    assert main(["check", str(path), "--link-bps", "100000000000"]) == 0
    assert "W_OVERLOAD" not in capsys.readouterr().out
    assert main(["check", str(path), "--link-bps", str(10**15)]) == 0  # the largest
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:  # out of range, as for every command
        main(["check", str(path), "--link-bps", str(10**24)])
    assert info.value.code == 2 and "E_USAGE" in capsys.readouterr().err
    assert main(["check", str(_bursts(tmp_path, 700))]) == 0  # 8.4 Gb/s: fits
    out = tmp_path / "o.parquet"
    assert main(["convert", str(path), "-o", str(out), "--quiet"]) == 0
    assert "W_OVERLOAD" in capsys.readouterr().err  # every command that reads says it
    ts = np.arange(0, 2_000_000_000, 500, dtype=np.int64)  # 24 Gb/s all along
    steady = tmp_path / "steady.parquet"
    pq.write_table(pa.table({"ts_ns": ts, "bytes": np.full(ts.shape[0], 1500)}), steady)
    assert main(["check", str(steady)]) == 1
    report = capsys.readouterr().out
    assert "W_RATE" in report and "W_OVERLOAD" not in report

def test_check_warns_as_the_readers_of_a_tso_capture(tmp_path, capsys):
    """`check` gives the warnings of the trace as the options would adjust it: a capture of
    100 B packets every 100 us for 20 s with one second of 64,000 B TSO segments (20.5
    Gb/s) from 10 s. Split (the default) makes each segment 43 packets of the same bits, so
    the link's queue holds 91 % of the packets the forge sees (25 % of the records); clamped
    to 1500 B the burst fits the link and nothing is said. `check` and `convert` agree."""
    quiet = np.arange(0, 20_000_000_000, 100_000, dtype=np.int64)
    burst = np.arange(10_000_000_000, 11_000_000_000, 25_000, dtype=np.int64) + 1
    ts = np.concatenate([quiet, burst])
    wire = np.concatenate([np.full(quiet.shape[0], 100), np.full(burst.shape[0], 64_000)])
    order = np.argsort(ts, kind="stable")
    path = tmp_path / "tso.pcap"
    path.write_bytes(pcap_from_sizes(ts[order], wire[order]))
    out = tmp_path / "o.parquet"
    for extra, share in (((), "90.6%"), (("--oversize", "clamp"), None)):
        assert main(["check", str(path), *extra]) == (1 if share else 0)
        checked = [line.strip() for line in capsys.readouterr().out.splitlines()
                   if line.strip().startswith("W_")]
        assert main(["convert", str(path), "-o", str(out), *extra]) == 0
        read = [line.split(": ", 1)[1] for line in capsys.readouterr().err.splitlines()
                if ": W_" in line]
        assert checked == read
        assert (share is None and not checked) or f"makes {share} of packets" in checked[0]


def test_check_exit_codes_and_report(tmp_path, capsys):
    clean = DATA / "micro.pcap"
    assert main(["check", str(clean), str(DATA / "two-interfaces.pcapng")]) == 0
    report = capsys.readouterr().out
    assert "micro.pcap: OK" in report and "adjustments: split 76 packets" in report
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"ts_ns,bytes,rtt_ns\n0,100,\n1.5,100,\n200,70000,5\n\n100,5,-3\n"
                    b"300000000,x,\n250000000,1,\n400000000,1,\n")
    assert main(["check", str(bad)]) == 1
    report = capsys.readouterr().out.splitlines()
    assert report[0].startswith(f"{bad}: ")
    assert any(line.strip().startswith("E_CSV_VALUE: 4; first at line 3:ts_ns; line 4:bytes; "
                                       "line 6:rtt_ns") for line in report), report
    assert any("E_CSV_ORDER: 2; first at line 6" in line for line in report), report
    assert main(["check", str(clean), str(tmp_path / "missing.pcap")]) == 2
    assert "E_IO" in capsys.readouterr().out
    stepped = tmp_path / "stepped.pcap.gz"
    stepped.write_bytes((DATA / "stepback.pcap.gz").read_bytes())
    assert main(["check", str(stepped), "--reorder-window", "5us"]) == 1
    assert "E_CSV_ORDER: 1; first at record 3000" in capsys.readouterr().out



def test_check_names_the_lines_of_the_wrong_width(tmp_path, capsys):
    """A row with too few or too many fields is named by its line, as `label` names it (the
    threaded reader does not number the rows it skips), and the values after it keep theirs."""
    bad = tmp_path / "width.csv"
    bad.write_bytes(b"ts_ns,bytes,rtt_ns\n\nx,1,\n5,100,\n6,100\n7,zz,\n8,1,,\n9,1,\n")
    assert main(["check", str(bad)]) == 1
    report = capsys.readouterr().out
    assert "E_CSV_ENCODING: 2; first at line 5: wrong number of fields; line 7: wrong number " \
           "of fields" in report, report
    assert "E_CSV_VALUE: 2; first at line 3:ts_ns; line 6:bytes" in report, report
    assert main(["label", str(bad), "-o", str(tmp_path / "out.csv")]) != 0
    assert "width.csv:3:ts_ns: E_CSV_VALUE" in capsys.readouterr().err

# --- hypothesis mutations of real captures -------------------------------------------------

def _parquet_seed() -> bytes:
    import io

    n = 3000
    buf = io.BytesIO()
    pq.write_table(pa.table({"ts_ns": np.arange(n, dtype=np.int64) * 100_000,
                             "bytes": np.full(n, 100, np.uint16),
                             "rtt_ns": pa.array([None, 5] * (n // 2), pa.int64())}),
                   buf, compression="snappy", row_group_size=1000)
    return buf.getvalue()


SEEDS = [MICRO[:FIRST * 40], _pcapng_head(40), _parquet_seed()]
FUZZ = mutation_settings(100, derandomize=True)


CAPTURE_OPTIONS = IngestOptions(bpf="tcp or (udp and len > 100)", rtt="tcp")
"""The compiled per-packet paths too: the BPF interpreter and the TCP matcher read the
records' bytes."""


def _holds(tmp_path_factory, data: bytes) -> None:
    """A trace (ordered, sizes >= 1) or a one-line ForgeError with a known code, read plainly
    and with --filter and --rtt tcp; ``check`` never raises, with or without them."""
    from reflexforge.ingest.check import check_file

    path = tmp_path_factory.mktemp("fuzz") / "f.bin"
    path.write_bytes(data)
    for options in (None, CAPTURE_OPTIONS):
        found = check_file(path, options)
        assert found.fatal is None or found.fatal.code in CODES
        try:
            trace, _ = read_with_adjustments(path, options, min_span_ns=0)
        except ForgeError as exc:
            assert exc.code in CODES and "\n" not in str(exc)
            continue
        assert trace.rows >= 1 and bool((np.diff(trace.ts_ns) >= 0).all())
        assert int(trace.size.min()) >= 1
        at, values = trace.rtt_samples
        assert bool((at < trace.rows).all()) and bool((values >= 0).all())


@FUZZ
@given(seed=st.sampled_from(SEEDS), data=st.data())
def test_flipped_bytes(tmp_path_factory, seed, data):
    buf = bytearray(seed)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(buf) - 1))
        buf[at] = data.draw(st.integers(0, 255))
    _holds(tmp_path_factory, bytes(buf))


@FUZZ
@given(seed=st.sampled_from(SEEDS), data=st.data())
def test_huge_length_fields(tmp_path_factory, seed, data):
    buf = bytearray(seed)
    at = data.draw(st.integers(0, len(buf) // 4 - 1)) * 4
    value = data.draw(st.sampled_from([0, 1, 11, 12, 0x7FFFFFFF, 0xFFFFFFFF, 0x10000, 262145]))
    struct.pack_into("<I", buf, at, value)
    _holds(tmp_path_factory, bytes(buf))


@FUZZ
@given(seed=st.sampled_from(SEEDS), data=st.data())
def test_cuts_and_splices(tmp_path_factory, seed, data):
    a = data.draw(st.integers(0, len(seed)))
    b = data.draw(st.integers(a, len(seed)))
    cut = seed[:a] + seed[b:]
    if data.draw(st.booleans()):
        cut = gzip.compress(cut, mtime=0)[: data.draw(st.integers(10, 10**6))]
    _holds(tmp_path_factory, cut)


def test_check_counts_hexadecimal_integers(tmp_path, capsys):
    """pyarrow's int64 conversion takes 0x10; check, like the reader, counts it as a bad
    value, and a letter in another column alone is no problem."""
    bad = tmp_path / "hex.csv"
    bad.write_bytes(b"ts_ns,bytes,rtt_ns,flow\n0,1,,x\n300000000,0x10,,y\n400000000,1,0X5,z\n")
    assert main(["check", str(bad)]) == 1
    report = capsys.readouterr().out
    assert "E_CSV_VALUE: 2; first at line 3:bytes" in report
    good = tmp_path / "letters.csv"
    good.write_bytes(b"ts_ns,bytes,rtt_ns,flow\n0,1,,x\n300000000,16,,y\n400000000,1,5,z\n")
    assert main(["check", str(good)]) == 0


def test_gzip_capture_ending_inside_its_header_is_one_error(tmp_path, capsys):
    """A gzip'd pcap whose stream breaks off inside the 24-byte capture header (found by a
    longer hypothesis run of test_cuts_and_splices: EOFError escaped from `check`): E_CAPTURE
    in check (exit 2) and in the readers, no traceback."""
    seed = MICRO[:FIRST * 40]
    path = tmp_path / "cut.pcap.gz"
    path.write_bytes(gzip.compress(seed[:37] + seed[3236:], mtime=0)[:99])
    assert main(["check", str(path)]) == 2
    assert "E_CAPTURE: corrupt compressed data after byte offset" in capsys.readouterr().out
    for options in (None, IngestOptions(rtt="tcp")):
        with pytest.raises(ForgeError) as info:
            read_with_adjustments(path, options)
        assert info.value.code == "E_CAPTURE"
