"""Inputs that expand: a small file that asks for a huge trace is E_MEMORY (spec/telemetry.md
3) before the arrays outgrow the memory the process can have, never the kernel's
out-of-memory kill. Real files, read by the real command in a fresh interpreter under a
real address-space limit (``RLIMIT_AS``, as ``ulimit -v`` sets it) of 600 MB above what the
loaded interpreter uses."""

from __future__ import annotations

import gzip
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ROOM = 600_000_000
_HARNESS = """
import contextlib, io, resource, sys
from reflexforge.cli import main
warm, room, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
    # imports and compiled code first: OpenBLAS spins at import under a tight RLIMIT_AS
    main(["check", warm])
    main(["convert", warm, "-o", warm + ".parquet", "--quiet"])
    main(["check", warm + ".parquet"])
size = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmSize:"))
resource.setrlimit(resource.RLIMIT_AS, (size + room, resource.RLIM_INFINITY))
sys.exit(main(argv))
"""


def _run(tmp_path: Path, *argv: str) -> tuple[int, str]:
    warm = tmp_path / "warm.csv"
    warm.write_text("ts_ns,bytes\n0,64\n300000000,64\n")
    done = subprocess.run([sys.executable, "-c", _HARNESS, str(warm), str(ROOM), *argv],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    return done.returncode, done.stdout + done.stderr  # check reports on stdout


def _parquet_of_repeats(path: Path, groups: int, rows_per_group: int) -> None:
    """groups x rows_per_group rows at ts_ns 0 of 64 bytes: one chunk referenced again and
    again (no memory for the rows), a few kB on disk."""
    chunk = pa.array(np.zeros(1 << 20, np.int64))
    size = pa.array(np.full(1 << 20, 64, np.int64))
    n = rows_per_group * groups // (1 << 20)
    table = pa.table({"ts_ns": pa.chunked_array([chunk] * n),
                      "bytes": pa.chunked_array([size] * n)})
    pq.write_table(table, path, row_group_size=rows_per_group)


@pytest.mark.parametrize("command", ["check", "convert"])
def test_a_gzip_csv_of_repeated_rows(tmp_path: Path, command: str) -> None:
    bomb = tmp_path / "rows.csv.gz"
    block = b"0,64\n" * 200_000
    with gzip.open(bomb, "wb", compresslevel=1) as out:  # 40 M rows in 1 MB
        out.write(b"ts_ns,bytes\n")
        for _ in range(200):
            out.write(block)
    extra = ["-o", str(tmp_path / "out.parquet")] if command == "convert" else []
    code, err = _run(tmp_path, command, str(bomb), *extra)
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith(f"{bomb}: E_MEMORY: reading it needs"), err
    assert "compressed file" in err and "Traceback" not in err
    assert not (tmp_path / "out.parquet").exists()


def test_a_capture_that_split_would_multiply(tmp_path: Path) -> None:
    """200,000 records of 512 KiB on the wire, nothing captured (3.2 MB): --oversize split
    at 1500 B makes 70 M rows; the message names the cure, which reads it."""
    bomb = tmp_path / "split.pcap"
    with open(bomb, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        out.write(b"".join(struct.pack("<IIII", 1 + i // 100_000, i % 1_000_000, 0, 524_288)
                           for i in range(200_000)))
    code, err = _run(tmp_path, "convert", str(bomb), "-o", str(tmp_path / "out.parquet"))
    assert code == 2 and err.count("\n") == 1, err
    assert "E_MEMORY: reading it needs at least 70000000 rows" in err
    assert "try --oversize clamp" in err and not (tmp_path / "out.parquet").exists()
    code, err = _run(tmp_path, "convert", str(bomb), "-o", str(tmp_path / "out.parquet"),
                     "--oversize", "clamp", "--quiet")
    assert code == 0, err
    assert pq.read_metadata(tmp_path / "out.parquet").num_rows == 200_000


@pytest.mark.parametrize(("groups", "rows_per_group"), [(1, 40 << 20), (40, 1 << 20)])
def test_a_parquet_file_of_repeated_rows(tmp_path: Path, groups: int,
                                         rows_per_group: int) -> None:
    """One row group of 40 M rows is refused before pyarrow decodes it (its footer's count);
    40 groups of 1 M rows as the arrays grow."""
    bomb = tmp_path / "rows.parquet"
    _parquet_of_repeats(bomb, groups, rows_per_group)
    assert bomb.stat().st_size < 1_000_000
    for argv in (["check", str(bomb)], ["convert", str(bomb), "-o", str(tmp_path / "o.csv")]):
        code, err = _run(tmp_path, *argv)
        assert code == 2 and err.count("\n") == 1 and "E_MEMORY: reading it needs" in err, err
    assert not (tmp_path / "o.csv").exists()


def test_a_huge_sparse_file_is_read_not_reserved(tmp_path: Path, capsys) -> None:
    """A 64 GB file of holes (a header, one row, then NUL bytes): the rows reserved from its
    size are capped by the memory the process can have, so the read reaches the bad line
    (it failed to reserve 8 G rows: E_MEMORY)."""
    from reflexforge.cli import main

    sparse = tmp_path / "sparse.csv"
    sparse.write_text("ts_ns,bytes\n0,64\n")
    with open(sparse, "r+b") as handle:
        handle.truncate(64 << 30)
    assert main(["convert", str(sparse), "-o", str(tmp_path / "s.parquet"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err == f"{sparse}:3: E_CSV_ENCODING: data line longer than 4194304 characters\n"


@pytest.mark.parametrize("version", [1, 2])
def test_the_cgroup_room_leaves_out_page_cache(tmp_path: Path, version: int) -> None:
    """The room under a cgroup limit, from the kernel's files as they read (a v1 hierarchy
    as on the CI machine, a v2 one as on current systems; checked by hand in a real 2 GB v1
    cgroup, README): the limit less what is charged, page cache excepted."""
    from reflexforge.memory import _cgroup_room

    proc = tmp_path / "cgroup"
    if version == 1:
        proc.write_text("9:name=systemd:/\n4:memory:/box/job\n0::/\n")
        base = tmp_path / "memory" / "box" / "job"
        names = ("memory.limit_in_bytes", "memory.usage_in_bytes", "cache 5\ntotal_cache 700\n")
    else:
        proc.write_text("0::/box/job\n")
        base = tmp_path / "box" / "job"
        names = ("memory.max", "memory.current", "anon 10\nfile 700\n")
    base.mkdir(parents=True)
    (base / names[0]).write_text("2000\n")
    (base / names[1]).write_text("1500\n")
    (base / "memory.stat").write_text(names[2])
    assert _cgroup_room(str(proc), str(tmp_path)) == 2000 - 1500 + 700
    (base / names[0]).write_text("max\n" if version == 2 else f"{(1 << 63) - 4096}\n")
    assert _cgroup_room(str(proc), str(tmp_path)) is None  # no limit


def test_check_of_a_compressed_capture_of_repeated_records(tmp_path: Path) -> None:
    """check holds every record (ts_ns, length, interface: 24 bytes): 20 M identical records
    gzipped are a few hundred kB; it held them unguarded, in pieces and then once more
    concatenated (the kernel's OOM kill where the address space is not limited)."""



@pytest.mark.parametrize("command", ["check", "convert"])
def test_a_compressed_capture_of_repeated_records(tmp_path: Path, command: str) -> None:
    """48 M identical 64-byte records gzipped (a few hundred kB). check holds each record
    (ts_ns, length, interface: 24 bytes): it held them unguarded, in pieces and then once
    more concatenated (the kernel's OOM kill where the address space is not limited);
    convert named --oversize split and clamp as the cure, which split none of them."""
    bomb = tmp_path / "records.pcap.gz"
    record = struct.pack("<IIII", 1, 0, 0, 64) * (1 << 16)
    with gzip.open(bomb, "wb", compresslevel=1) as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for _ in range(48 * 1_000_000 // (1 << 16)):
            out.write(record)
    extra = ["-o", str(tmp_path / "out.parquet")] if command == "convert" else []
    code, err = _run(tmp_path, command, str(bomb), *extra)
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"{bomb}: E_MEMORY: reading it needs at least"), err
    assert "compressed file" in err and "--oversize clamp" not in err, err


def test_check_reads_a_plain_csv_that_convert_reads(tmp_path: Path) -> None:
    """3 M rows of 72 bytes (an ignored column), 48 MB as check holds them: check reserved
    its two int64 arrays by the reader's 10-byte rows (0.8 of the room in address space,
    which RLIMIT_AS counts) and refused it as a compressed file that expands; convert read
    it."""
    csv = tmp_path / "long.csv"
    note = "x" * 56
    with open(csv, "w") as out:
        out.write("ts_ns,bytes,note\n")
        for start in range(0, 3_000_000, 100_000):
            out.write("".join(f"{i * 100_000},64,{note}\n"
                              for i in range(start, start + 100_000)))
    code, err = _run(tmp_path, "check", str(csv))
    assert code == 0 and "OK (csv, 3000000 rows" in err, err
    code, err = _run(tmp_path, "convert", str(csv), "-o", str(tmp_path / "o.parquet"))
    assert code == 0, err


def _cgroup_files(where: Path, limit: str, usage: int, cache: int, v1: bool = False) -> None:
    where.mkdir(parents=True, exist_ok=True)
    (where / ("memory.limit_in_bytes" if v1 else "memory.max")).write_text(limit + "\n")
    (where / ("memory.usage_in_bytes" if v1 else "memory.current")).write_text(f"{usage}\n")
    (where / "memory.stat").write_text(
        f"anon 1000\ncache 5\ntotal_cache {cache}\n" if v1 else f"anon 1000\nfile {cache}\n")


def test_the_cgroup_room_counts_its_page_cache_and_its_ancestors(tmp_path: Path) -> None:
    """A container's usage counts the page cache of every file it read or wrote, so it sits
    near its limit: memory.max - memory.current alone refused a 12 M-row CSV at 1.3 M rows
    in a 1.5 GB cgroup holding 1.3 GB of cache. A parent's lower limit binds too."""
    from reflexforge.memory import V1_FILES, V2_FILES, _room_under

    mount = tmp_path / "v2"
    _cgroup_files(mount / "a", "4000000000", 3_900_000_000, 3_000_000_000)
    _cgroup_files(mount / "a" / "b", "1500000000", 1_400_000_000, 1_300_000_000)
    assert _room_under(str(mount), "/a/b", V2_FILES) == 1_400_000_000
    _cgroup_files(mount / "a", "2000000000", 1_900_000_000, 0)
    assert _room_under(str(mount), "/a/b", V2_FILES) == 100_000_000
    _cgroup_files(mount / "a", "max", 1_900_000_000, 0)
    _cgroup_files(mount / "a" / "b", "max", 1_400_000_000, 0)
    assert _room_under(str(mount), "/a/b", V2_FILES) is None
    v1 = tmp_path / "v1"
    _cgroup_files(v1 / "c", "9223372036854771712", 10, 0, v1=True)  # v1's "no limit"
    assert _room_under(str(v1), "/c", V1_FILES) is None
    _cgroup_files(v1 / "c", "1500000000", 1_400_000_000, 1_300_000_000, v1=True)
    assert _room_under(str(v1), "/c", V1_FILES) == 1_400_000_000


def test_a_gzip_parquet_file_that_would_fill_the_disk(tmp_path: Path) -> None:
    """A gzip Parquet file is decompressed into TMPDIR first: 200 kB that expand to 134 MB
    filled a 50 MB disk and said only 'E_IO: No space left on device'. It stops at half of
    the space, naming the file and the directory; a disk that fills before then is the same
    line with the system's reason. A real tmpfs in a private mount namespace (unshare)."""
    n = 8 << 20
    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"ts_ns": pa.array(np.zeros(n, np.int64)),
                             "bytes": pa.array(np.full(n, 64, np.int64))}),
                   plain, compression="none", use_dictionary=False)
    bomb = tmp_path / "bomb.parquet.gz"
    bomb.write_bytes(gzip.compress(plain.read_bytes(), compresslevel=6))
    plain.unlink()
    disk = tmp_path / "disk"
    disk.mkdir()
    forge = f"{sys.executable} -c 'import sys; from reflexforge.cli import main; " \
        "sys.exit(main(sys.argv[1:]))'"
    script = (f"mount -t tmpfs -o size=50m tmpfs {disk} && "
              f"TMPDIR={disk} {forge} convert {bomb} -o {tmp_path / 'o.csv'}; echo rc=$?; "
              f"head -c 45000000 /dev/zero > {disk}/full && "
              f"TMPDIR={disk} {forge} convert {bomb} -o {tmp_path / 'o.csv'}; echo rc=$?; "
              f"ls -A {disk}")
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True,
                          text=True, timeout=300)
    assert done.stdout.split() == ["rc=2", "rc=2", "full"], done.stdout + done.stderr
    first, second = done.stderr.splitlines()
    assert first.startswith(f"{bomb}: E_IO: decompressing it has written ") and \
        f"MB to {disk}, more than half of the disk space there" in first, first
    assert second == (f"{bomb}: E_IO: cannot decompress it into {disk} (No space left on "
                      "device): decompress it where there is room, or set TMPDIR"), second
    assert not (tmp_path / "o.csv").exists()
