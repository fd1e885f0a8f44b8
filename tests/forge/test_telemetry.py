"""Telemetry v1 reader: good files, every bad-input case, line numbers across blocks."""

from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pytest

from reflexforge import telemetry
from reflexforge.errors import ForgeError
from reflexforge.telemetry import read_telemetry

SPAN = 300_000_000  # > one 200 ms window


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_columns_any_order_unknown_ignored_rtt_empty_crlf_bom(tmp_path):
    data = (
        b"\xef\xbb\xbfbytes,note,rtt_ns,ts_ns\r\n"
        b"100,a,,0\r\n"
        b'1500,"b,c",300,5\r\n'
        b"\r\n"
        b"64,d,,%d\r\n" % SPAN
    )
    path = write(tmp_path, "t.csv", data)
    trace = read_telemetry(path)
    assert trace.ts_ns.tolist() == [0, 5, SPAN]
    assert trace.size.tolist() == [100, 1500, 64]
    assert trace.rtt_ns.tolist() == [-1, 300, -1]
    assert trace.ts_ns.dtype == np.int64 and trace.rtt_ns.dtype == np.int64
    assert trace.size.dtype == np.uint16  # bytes are 1..65535
    assert trace.sha1 == hashlib.sha1(data).hexdigest()
    assert trace.path == str(path)


def test_rtt_column_optional(tmp_path):
    trace = read_telemetry(write(tmp_path, "t.csv", b"ts_ns,bytes\n0,1\n%d,65535\n" % SPAN))
    assert trace.rtt_ns.tolist() == [-1, -1]
    assert trace.size.tolist() == [1, 65535]


def test_gzip_read_transparently_and_hash_of_stored_bytes(tmp_path):
    plain = b"ts_ns,bytes,rtt_ns\n0,100,50000\n%d,1500,\n" % SPAN
    packed = gzip.compress(plain, mtime=0)
    trace = read_telemetry(write(tmp_path, "t.csv.gz", packed))
    assert trace.ts_ns.tolist() == [0, SPAN]
    assert trace.rtt_ns.tolist() == [50000, -1]
    assert trace.sha1 == hashlib.sha1(packed).hexdigest()


BAD = [
    ("missing column", b"ts,bytes\n0,1\n", "E_CSV_COLUMN", 1, "ts_ns"),
    ("missing bytes", b"ts_ns,size\n0,1\n", "E_CSV_COLUMN", 1, "bytes"),
    ("duplicate column", b"ts_ns,bytes,ts_ns\n0,1,0\n", "E_CSV_COLUMN", 1, "ts_ns"),
    ("non-integer", b"ts_ns,bytes\n0,1\n5,1.5\n", "E_CSV_VALUE", 3, "bytes"),
    ("non-integer ts", b"ts_ns,bytes\n0,1\nabc,1\n", "E_CSV_VALUE", 3, "ts_ns"),
    ("plus sign", b"ts_ns,bytes\n0,1\n5,+2\n", "E_CSV_VALUE", 3, "bytes"),
    ("hexadecimal", b"ts_ns,bytes\n0,1\n300000000,0x10\n", "E_CSV_VALUE", 3, "bytes"),
    ("hexadecimal ts", b"ts_ns,bytes\n0X1f,1\n300000000,1\n", "E_CSV_VALUE", 2, "ts_ns"),
    ("hexadecimal rtt, x elsewhere", b"ts_ns,bytes,rtt_ns,xx\n0,1,,x\n300000000,1,0x5,ax\n",
     "E_CSV_VALUE", 3, "rtt_ns"),
    ("empty required", b"ts_ns,bytes\n0,1\n5,\n", "E_CSV_VALUE", 3, "bytes"),
    ("decreasing ts", b"ts_ns,bytes\n10,1\n9,1\n", "E_CSV_ORDER", 3, "ts_ns"),
    ("bytes zero", b"ts_ns,bytes\n0,1\n\n5,0\n", "E_CSV_VALUE", 4, "bytes"),
    ("bytes negative", b"ts_ns,bytes\n0,-3\n", "E_CSV_VALUE", 2, "bytes"),
    ("bytes too big", b"ts_ns,bytes\n0,1\n5,65536\n", "E_CSV_VALUE", 3, "bytes"),
    ("rtt negative", b"ts_ns,bytes,rtt_ns\n0,1,\n5,1,-1\n", "E_CSV_VALUE", 3, "rtt_ns"),
    ("rtt NA", b"ts_ns,bytes,rtt_ns\n0,1,NA\n", "E_CSV_VALUE", 2, "rtt_ns"),
    ("ts negative", b"ts_ns,bytes\n-5,1\n0,1\n", "E_CSV_VALUE", 2, "ts_ns"),
    ("ts above 2^62", b"ts_ns,bytes\n0,1\n\n4611686018427387905,1\n", "E_CSV_VALUE", 4, "ts_ns"),
    ("newline in quotes", b'ts_ns,bytes,x\n0,1,"a\nb"\n300000000,1,\n', "E_CSV_ENCODING", 2,
     None),
    ("int64 overflow", b"ts_ns,bytes\n99999999999999999999,1\n", "E_CSV_VALUE", 2, "ts_ns"),
    ("short row", b"ts_ns,bytes,rtt_ns\n0,1,\n5,1\n", "E_CSV_ENCODING", 3, None),
    ("not utf-8", b"ts_ns,bytes,x\n0,1,\xff\n5,\xfe,a\n", "E_CSV_ENCODING", 3, "bytes"),
    ("empty file", b"", "E_CSV_EMPTY", None, None),
    ("header only", b"ts_ns,bytes,rtt_ns\n", "E_CSV_EMPTY", None, None),
    ("too short", b"ts_ns,bytes\n0,1\n199999999,1\n", "E_TRACE_SHORT", None, None),
]


@pytest.mark.parametrize(
    ("data", "code", "line", "column"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_bad_input(tmp_path, data, code, line, column):
    path = write(tmp_path, "bad.csv", data)
    with pytest.raises(ForgeError) as info:
        read_telemetry(path)
    err = info.value
    assert (err.code, err.line, err.column, err.path) == (code, line, column, str(path))
    text = str(err)
    assert "\n" not in text
    assert text.startswith(str(path) + ":")
    assert f" {code}: " in text


def test_missing_file_is_e_io(tmp_path):
    with pytest.raises(ForgeError) as info:
        read_telemetry(tmp_path / "nope.csv")
    assert info.value.code == "E_IO"


def test_corrupt_gzip(tmp_path):
    import gzip

    good = gzip.compress(b"ts_ns,bytes\n0,1\n300000000,1\n", mtime=0)
    path = write(tmp_path, "t.csv", good[:12] + b"\xff" * 8 + good[20:])  # gzip by content
    with pytest.raises(ForgeError) as info:
        read_telemetry(path)
    assert info.value.code == "E_CSV_ENCODING"


def test_compression_is_found_by_content_not_name(tmp_path):
    """spec 5: a plain CSV named .gz is read as plain CSV, a gzip named .csv as gzip."""
    import gzip

    text = b"ts_ns,bytes\n0,1\n300000000,1\n"
    plain = read_telemetry(write(tmp_path, "plain.csv.gz", text))
    packed = read_telemetry(write(tmp_path, "packed.csv", gzip.compress(text, mtime=0)))
    assert plain.ts_ns.tolist() == packed.ts_ns.tolist() == [0, 300_000_000]


def _rows(n: int) -> list[bytes]:
    return [b"%d,%d,\n" % (i * 10_000, 64 + i % 1400) for i in range(n)]


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    ("bad_row", "code", "column"),
    [
        (b"x,100,\n", "E_CSV_VALUE", "ts_ns"),
        (b"5,100,\n", "E_CSV_ORDER", "ts_ns"),
        (b"99999999999,0,\n", "E_CSV_VALUE", "bytes"),
        (b"150000000,0x40,\n", "E_CSV_VALUE", "bytes"),
    ],
)
def test_bad_row_beyond_first_block_reports_its_line(
    tmp_path, monkeypatch, gz, bad_row, code, column
):
    monkeypatch.setattr(telemetry, "BLOCK_SIZE", 1 << 14)  # many blocks in a small file
    rows = _rows(20_000)
    rows.insert(5000, b"\n")  # a blank line: skipped, but it still counts as a line
    rows[15_000] = bad_row
    data = b"ts_ns,bytes,rtt_ns\n" + b"".join(rows)
    path = write(
        tmp_path, "t.csv.gz" if gz else "t.csv", gzip.compress(data, mtime=0) if gz else data
    )
    with pytest.raises(ForgeError) as info:
        read_telemetry(path)
    assert (info.value.code, info.value.line, info.value.column) == (code, 15_002, column)


@pytest.mark.parametrize("gz", [False, True])
def test_hex_value_in_an_earlier_block_is_the_error_reported(tmp_path, monkeypatch, gz):
    """pyarrow reads 0x40 as 64; the first bad row is still the one reported."""
    monkeypatch.setattr(telemetry, "BLOCK_SIZE", 1 << 14)
    rows = _rows(20_000)
    rows[5_000] = b"50000000,0x40,\n"
    rows[15_000] = b"150000000,0,\n"
    data = b"ts_ns,bytes,rtt_ns\n" + b"".join(rows)
    path = write(tmp_path, "t.csv", gzip.compress(data, mtime=0) if gz else data)
    with pytest.raises(ForgeError) as info:
        read_telemetry(path)
    assert (info.value.code, info.value.line, info.value.column) == ("E_CSV_VALUE", 5_002, "bytes")


def test_letters_in_other_columns_are_not_hex(tmp_path, monkeypatch):
    monkeypatch.setattr(telemetry, "BLOCK_SIZE", 1 << 14)
    rows = [r.rstrip(b"\n") + b",0x%x\n" % i for i, r in enumerate(_rows(30_000))]
    data = b"ts_ns,bytes,rtt_ns,flow_x\n" + b"".join(rows)
    trace = read_telemetry(write(tmp_path, "t.csv", data))
    assert trace.rows == 30_000
    assert np.array_equal(trace.size, [64 + i % 1400 for i in range(30_000)])


def test_many_blocks_read_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(telemetry, "BLOCK_SIZE", 1 << 14)
    data = b"ts_ns,bytes,rtt_ns\n" + b"".join(_rows(50_000))
    trace = read_telemetry(write(tmp_path, "t.csv", data))
    assert trace.rows == 50_000
    assert np.array_equal(trace.ts_ns, np.arange(50_000) * 10_000)
    assert trace.sha1 == hashlib.sha1(data).hexdigest()


def test_ts_range_ends_are_accepted(tmp_path):
    data = b"ts_ns,bytes\n4611686018227387904,1\n4611686018427387904,1\n"
    path = write(tmp_path, "ends.csv", data)
    trace = read_telemetry(path)
    assert int(trace.ts_ns[-1]) == 2**62
    path = write(tmp_path, "zero.csv", b"ts_ns,bytes\n0,1\n200000000,1\n")
    assert int(read_telemetry(path).ts_ns[0]) == 0


def test_rfc4180_quoting_on_one_line_is_accepted(tmp_path):
    data = b'"ts_ns",bytes,note\n"0","1500","a, b"\n100,64,"x""y"\n300000000,64,\n'
    trace = read_telemetry(write(tmp_path, "q.csv", data))
    assert trace.ts_ns.tolist() == [0, 100, 300000000]
    assert trace.size.tolist() == [1500, 64, 64]


def test_unknown_columns_are_not_validated(tmp_path):
    data = b"ts_ns,bytes,x\n0,1,\xff\x01\n300000000,1,z\n"
    trace = read_telemetry(write(tmp_path, "u.csv", data))
    assert trace.rows == 2


@pytest.mark.parametrize("gz", [False, True])
def test_an_endless_data_line_is_one_bounded_error(tmp_path, gz):
    """A data line longer than MAX_LINE_CHARS (here 6 MiB of NUL bytes, as `truncate -s 5G`
    after a header makes) is E_CSV_ENCODING naming its line; the error path reads it in
    bounded pieces (it once read the whole line into one string: 10.7 GB for 5 GB)."""
    data = b"ts_ns,bytes\n0,1\n" + b"\0" * (6 << 20)
    path = write(tmp_path, "t.csv", gzip.compress(data, mtime=0) if gz else data)
    with pytest.raises(ForgeError) as info:
        read_telemetry(path)
    err = info.value
    assert (err.code, err.line) == ("E_CSV_ENCODING", 3)
    assert f"data line longer than {telemetry.MAX_LINE_CHARS} characters" in str(err)
