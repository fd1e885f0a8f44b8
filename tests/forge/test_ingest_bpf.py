"""``--filter``'s classic BPF interpreter (reflexforge.ingest.bpf): record by record against
libpcap's own ``bpf_filter()`` (pcapy's ``BPFProgram.filter``) on every committed capture and
on made-up packets, against libpcap reading and filtering the capture itself (as tcpdump
does: ``len`` is the length on the wire), and on hand-written programs for the edge cases."""

from __future__ import annotations

import gzip
import itertools
import random
import struct
from pathlib import Path

import numpy as np
import pytest
from capture_builders import SECTION, pcap_fields, pcapng_block

from reflexforge.errors import ForgeError
from reflexforge.ingest import pcap, pcapng
from reflexforge.ingest.bpf import OPCODES, filter_records, load_program
from reflexforge.ingest.options import IngestOptions
from reflexforge.ingest.packets import BPF_SNAPLEN, PacketSelector, compile_filter
from reflexforge.ingest.read import read_with_adjustments

pcapy = pytest.importorskip("pcapy")

DATA = Path(__file__).parent.parent / "data" / "captures"
CAPTURES = ["micro.pcap", "nano.pcap", "oversize.pcap", "stepback.pcap.gz",
            "two-interfaces.pcapng", "h2.pcap"]
EXPRESSIONS = [
    "tcp", "udp", "tcp port 6379", "dst port 80", "src host 127.0.0.1", "ip6", "ip",
    "tcp[tcpflags] & tcp-syn != 0", "tcp[tcpflags] & (tcp-fin|tcp-rst) != 0", "len > 100",
    "greater 200", "less 60", "ip[2:2] > 500", "vlan", "tcp and (port 80 or port 443)",
    "not arp", "ether[0] & 1 = 0", "ip[0] & 0xf = 5", "ip[6:2] & 0x1fff = 0",
    "tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420", "tcp[((tcp[12:1] & 0xf0) >> 2)] = 0x2a",
    "tcp port 8081 and tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x50524920",  # HTTP/2's "PRI "
    "ip[2:2] - ((ip[0] & 0xf) << 2) - ((tcp[12] & 0xf0) >> 2) > 0", "ip6 and tcp port 6379",
    "net 127.0.0.0/8", "portrange 6000-7000", "(ip[8] * 2 / 3) % 7 = 0", "ip[1] ^ 0xff = 0xff",
    "ip protochain 6", "ip6 protochain 6",
]


def _chunks(path: Path, on_chunk) -> None:
    opener = gzip.open if path.suffix == ".gz" else open
    reader = pcapng.read_records if ".pcapng" in path.name else pcap.read_records
    with opener(path, "rb") as stream:
        reader(str(path), stream, on_chunk)


LENGTH = ("len", "greater", "less")
"""Expressions on the packet's length: pcapy's filter(data) passes the captured length as
the wire length, so these are compared with libpcap's own reading (test_as_tcpdump...)."""


def _compare(path: Path, expression: str) -> tuple[int, int]:
    """(records, kept): PacketSelector.select against pcapy's filter() on each record."""
    assert not expression.startswith(LENGTH)
    selector = PacketSelector(path.name, IngestOptions(bpf=expression))
    counts = [0, 0]

    def on_chunk(chunk, n, buf, _first, _base, links) -> None:
        got = selector.select(chunk, n, buf, links)[:n].copy()
        programs = [compile_filter(expression, link) for link in links]
        want = np.array([programs[int(chunk.iface[i]) if len(links) > 1 else 0].filter(
            bytes(buf[chunk.offset[i] : chunk.offset[i] + chunk.caplen[i]])) != 0
            for i in range(n)], dtype=np.bool_)
        bad = np.flatnonzero(got != want)
        assert bad.size == 0, f"{path.name} {expression!r}: record {counts[0] + bad[0]} differs"
        counts[0] += n
        counts[1] += int(want.sum())

    _chunks(path, on_chunk)
    assert selector.left_out == counts[0] - counts[1]
    return counts[0], counts[1]


@pytest.mark.parametrize("name", CAPTURES)
def test_same_records_as_libpcap_on_the_captures(name):
    kept_by = {}
    for expression in (e for e in EXPRESSIONS if not e.startswith(LENGTH)):
        records, kept_by[expression] = _compare(DATA / name, expression)
        assert records >= 3000
    assert kept_by["tcp"] > 0 and kept_by["ip[2:2] > 500"] > 0
    assert sum(0 < kept < records for kept in kept_by.values()) >= 4  # many keep some


def _two_link_types(pcap: bytes) -> bytes:
    """micro.pcap's records as a pcapng of two interfaces: Ethernet, and raw IPv4
    (LINKTYPE_IPV4, the Ethernet header cut off) for every third record."""
    out = pcapng_block(*SECTION)
    out += pcapng_block(1, struct.pack("<HHI", 1, 0, 0)) + pcapng_block(
        1, struct.pack("<HHI", 228, 0, 0))
    for k, (sec, usec, incl, orig, data) in enumerate(pcap_fields(pcap)):
        iface = int(k % 3 == 2)
        if iface:
            data, incl, orig = data[14:], incl - 14, orig - 14
        units = sec * 10**6 + usec
        out += pcapng_block(6, struct.pack("<IIIII", iface, units >> 32, units & 0xFFFFFFFF,
                                           incl, orig) + data)
    return out


def test_interfaces_of_two_link_types(tmp_path):
    path = tmp_path / "two-links.pcapng"
    path.write_bytes(_two_link_types((DATA / "micro.pcap").read_bytes()))
    for expression in ("tcp port 6379", "ip[2:2] > 100", "udp and ip[8] = 64", "ip6 or tcp"):
        records, kept = _compare(path, expression)
        trace, adjust = read_with_adjustments(path, IngestOptions(
            bpf=expression, oversize="clamp", mtu=65535))
        assert records == 4434 and trace.rows == kept > 0
        assert adjust.filtered_out == records - kept > 0


def _packet(rng: random.Random) -> bytes:
    """An Ethernet frame, often IPv4 or IPv6 with TCP or UDP, with random bytes around."""
    noise = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 80)))
    kind = rng.randrange(4)
    if kind == 0:
        return noise
    eth = bytes(rng.randrange(256) for _ in range(12))
    proto = rng.choice([6, 17, 1, 0])
    ports = struct.pack(">HH", rng.choice([80, 443, 6379, 1234]), rng.choice([80, 6379, 9]))
    l4 = ports + bytes(rng.randrange(256) for _ in range(8)) + bytes(  # + TCP offset, flags
        [rng.choice([0x50, 0x50, 0x80, 0x00]), rng.randrange(256)]) + bytes(6) + rng.choice(
        [b"GET ", b"\x2a", b""])
    if kind == 1:
        ihl = rng.choice([5, 5, 6, 15, 0])
        ip = bytes([0x40 | ihl, 0]) + struct.pack(">H", rng.randrange(1 << 16)) + bytes(
            [0, 0, rng.choice([0, 0x40, 0x20, 0x3F]), rng.choice([0, 0, 9]), 64, proto, 0, 0,
             127, 0, 0, 1, 10, 0, 0, rng.randrange(3)])
        ip += bytes(4 * max(ihl - 5, 0))
        return (eth + b"\x08\x00" + ip + l4 + noise)[: rng.randrange(0, 120)]
    ip6 = bytes([0x60, 0, 0, 0, 0, 40, rng.choice([6, 17, 0, 44]), 64]) + bytes(32)
    hop = bytes([6, 0]) + bytes(6) if ip6[6] == 0 else b""
    tag = b"\x81\x00\x00\x01" if kind == 3 else b""
    return (eth + tag + b"\x86\xdd" + ip6 + hop + l4 + noise)[: rng.randrange(0, 140)]


MADE_UP_EXPRESSIONS = EXPRESSIONS + [
    "ether[0] / ether[1] = 3", "ether[0] % ether[1] = 1", "ether[0] << ether[1] = 0",
    "(ether[0] << ether[1]) & 0xff = 0", "ether[2] >> ether[1] = 1", "ether[0] - ether[1] > 7",
    "ether[0:4] * ether[4:4] > 0x80000000", "ether[0] | ether[1] = 0xff", "-ether[0] > 100",
    "ether[ether[2] & 0x3f : 4] > 0x80000000", "ether[ether[3] & 0x7f : 2] = 0x0800",
    "ether[ether[4] & 0x7f] & 1 = 1", "len >= 60", "ether[0:4] & 0x80000000 != 0",
    "vlan and ip6", "ip6[6] = 44", "udp port 6379 or tcp dst port 9",
]


def test_same_as_libpcap_on_made_up_packets():
    rng = random.Random(7)
    packets = [_packet(rng) for _ in range(3000)]
    packets += [bytes([a, b]) + bytes(20) for a in (1, 4, 0x81, 255) for b in range(256)]
    packets += [b"\x01" * size for size in (59, 60, 199, 200, 201, 300)]
    buf = np.frombuffer(b"".join(packets), dtype=np.uint8)
    caplen = np.array([len(p) for p in packets], dtype=np.int64)
    offset = np.concatenate([[0], np.cumsum(caplen)[:-1]]).astype(np.int64)
    iface = np.zeros(len(packets), np.int64)
    for expression, optimize in itertools.product(MADE_UP_EXPRESSIONS, (1, 0)):
        # unoptimized, libpcap keeps every value in scratch words and X
        program = pcapy.compile(1, BPF_SNAPLEN, expression, optimize, 0xFFFFFFFF)
        want = np.array([program.filter(p) != 0 for p in packets])
        keep = np.zeros(len(packets), np.bool_)
        prog = load_program(program.get_bpf(), expression)
        kept = filter_records(prog, np.zeros(1, np.int64), buf, offset, caplen, caplen, iface,
                              len(packets), keep)
        assert kept == int(want.sum())
        assert np.array_equal(keep, want), (expression, optimize)


def _run(insns, *packets: bytes, wirelen: int | None = None) -> list[bool]:
    prog = load_program(insns, "test")
    buf = np.frombuffer(b"".join(packets) or b"\0", dtype=np.uint8)
    caplen = np.array([len(p) for p in packets], dtype=np.int64)
    offset = np.concatenate([[0], np.cumsum(caplen)[:-1]]).astype(np.int64)
    wire = caplen if wirelen is None else np.full(len(packets), wirelen, np.int64)
    keep = np.zeros(len(packets), np.bool_)
    filter_records(prog, np.zeros(1, np.int64), buf, offset, caplen, wire,
                   np.zeros(len(packets), np.int64), len(packets), keep)
    return keep.tolist()


RET_A = (0x16, 0, 0, 0)


def test_loads_past_the_captured_bytes_reject():
    # each short record is followed by bytes that would make the load nonzero
    for size, code in ((4, 0x20), (2, 0x28), (1, 0x30)):
        fits = bytes(10) + b"\x01" * size
        assert _run([(code, 0, 0, 10), RET_A], fits, fits[:-1], b"\x01" * 8, b"") == [
            True, False, False, False]
    for size, code in ((4, 0x40), (2, 0x48), (1, 0x50)):  # ldx #6; ld [x+4]
        fits = bytes(10) + b"\x01" * size
        assert _run([(0x01, 0, 0, 6), (code, 0, 0, 4), RET_A], fits, fits[:-1],
                    b"\x01" * 8) == [True, False, False]
    huge = [(0x01, 0, 0, 0xFFFFFFFF), (0x50, 0, 0, 2), RET_A]  # x + k past 2^32
    assert _run(huge, b"\x01" * 8) == [False]
    msh = [(0xB1, 0, 0, 3), (0x87, 0, 0, 0), RET_A]  # ldxb 4*([3]&0xf); txa
    assert _run(msh, b"\0\0\0\x45", b"\0\0\0", b"\x45") == [True, False, False]
    assert _run([(0xB1, 0, 0, 0), (0x87, 0, 0, 0), (0x15, 0, 1, 20), (0x06, 0, 0, 1),
                 (0x06, 0, 0, 0)], b"\x45") == [True]


def test_division_and_modulus_by_zero_reject():
    for op in (0x3C, 0x9C, 0x34, 0x94):  # div x, mod x, and div #0, mod #0 (libpcap refuses)
        prog = [(0x00, 0, 0, 7), (0x01, 0, 0, 0), (op, 0, 0, 0), (0x06, 0, 0, 1)]
        assert _run(prog, b"\0") == [False]
    prog = [(0x00, 0, 0, 7), (0x01, 0, 0, 2), (0x3C, 0, 0, 0), (0x15, 0, 1, 3), RET_A,
            (0x06, 0, 0, 0)]
    assert _run(prog, b"\0") == [True]


def test_scratch_memory_and_the_x_register():
    prog = [(0x00, 0, 0, 5), (0x02, 0, 0, 15), (0x00, 0, 0, 0), (0x61, 0, 0, 15),
            (0x87, 0, 0, 0), (0x15, 0, 1, 5), (0x06, 0, 0, 1), (0x06, 0, 0, 0)]
    assert _run(prog, b"") == [True]
    unset = [(0x60, 0, 0, 3), RET_A]  # scratch starts at zero for every record
    stores = [(0x00, 0, 0, 9), (0x02, 0, 0, 3), (0x06, 0, 0, 1)]
    assert _run(stores, b"") == [True] and _run(unset, b"", b"") == [False, False]
    length = [(0x81, 0, 0, 0), (0x87, 0, 0, 0), (0x07, 0, 0, 0), (0x0C, 0, 0, 0),
              (0x15, 0, 1, 600), (0x06, 0, 0, 1), (0x06, 0, 0, 0)]  # a = 2 * wirelen
    assert _run(length, b"abc", wirelen=300) == [True]
    assert _run(length, b"abc") == [False]
    wrap = [(0x00, 0, 0, 1), (0x84, 0, 0, 0), (0x15, 0, 1, 0xFFFFFFFF), (0x06, 0, 0, 1),
            (0x06, 0, 0, 0)]  # neg wraps at 32 bits
    assert _run(wrap, b"") == [True]
    shift = [(0x00, 0, 0, 1), (0x01, 0, 0, 32), (0x6C, 0, 0, 0), (0x15, 0, 1, 0),
             (0x06, 0, 0, 1), (0x06, 0, 0, 0)]  # a shift by 32 or more gives 0
    assert _run(shift, b"") == [True]
    jset = [(0x01, 0, 0, 6), (0x00, 0, 0, 4), (0x4D, 0, 1, 0), (0x06, 0, 0, 1),
            (0x06, 0, 0, 0)]
    assert _run(jset, b"") == [True]


def test_truncated_packets_as_libpcap():
    program = compile_filter("tcp port 80", 1)
    frame = (b"\0" * 12 + b"\x08\x00" + bytes([0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0])
             + bytes(8) + struct.pack(">HH", 1234, 80) + bytes(16))
    cuts = [frame[:n] for n in range(len(frame) + 1)]
    assert _run(program.get_bpf(), *cuts) == [program.filter(c) != 0 for c in cuts]
    assert _run(program.get_bpf(), frame) == [True]


def test_programs_per_interface():
    prog = np.concatenate([load_program([(0x06, 0, 0, 0)], "a"),
                           load_program([(0x06, 0, 0, 1)], "b")])
    keep = np.zeros(4, np.bool_)
    kept = filter_records(prog, np.array([0, 1], np.int64), np.zeros(4, np.uint8),
                          np.arange(4, dtype=np.int64), np.ones(4, np.int64),
                          np.ones(4, np.int64), np.array([0, 1, 1, 0], np.int64), 4, keep)
    assert kept == 2 and keep.tolist() == [False, True, True, False]


@pytest.mark.parametrize("insns, says", [
    ([(0x99, 0, 0, 0), (0x06, 0, 0, 0)], "opcode 0x99 ?"),
    ([(0x68, 0, 0, 0), (0x06, 0, 0, 0)], "opcode 0x68"),  # ldh M[k]: no such load
    ([(0x02, 0, 0, 16), (0x06, 0, 0, 0)], "scratch word 16"),
    ([(0x15, 1, 0, 0), (0x06, 0, 0, 0)], "jumps past the end"),
    ([(0x05, 0, 0, 1), (0x06, 0, 0, 0)], "jumps outside the program"),
    ([(0x06, 0, 0, 0), (0x05, 0, 0, 0xFFFFFFFD)], "jumps outside the program"),
    ([(0x00, 0, 0, 0)], "does not end with a return"),
    ([], "does not end with a return"),
])
def test_programs_the_interpreter_refuses(insns, says):
    with pytest.raises(ForgeError) as info:
        load_program(insns, "--filter 'x' on link type 1")
    assert info.value.code == "E_USAGE" and says in info.value.message
    assert info.value.message.startswith("--filter 'x' on link type 1: ")


def test_what_libpcap_emits_is_known():
    seen = set()
    for expression in MADE_UP_EXPRESSIONS:
        for link in (1, 113, 0, 101):  # Ethernet, Linux cooked, BSD loopback, raw IP
            try:
                program = compile_filter(expression, link)
            except ForgeError:
                continue
            seen |= {code for code, _jt, _jf, _k in program.get_bpf()}
    assert seen <= set(OPCODES) and len(seen) >= 30


def _libpcap_reads(path: Path, expression: str) -> list[tuple[int, int, int]]:
    """(seconds, microseconds, wire length) of each packet libpcap itself keeps, reading the
    capture with the filter set, as tcpdump -r does."""
    reader = pcapy.open_offline(str(path))
    reader.setfilter(expression)
    out = []
    while True:
        header, _data = reader.next()
        if header is None:
            return out
        out.append((*header.getts(), header.getlen()))


def _ours(path: Path, expression: str) -> list[tuple[int, int, int]]:
    """The same, for the records PacketSelector keeps."""
    got: list[tuple[int, int, int]] = []
    selector = PacketSelector(path.name, IngestOptions(bpf=expression))

    def on_chunk(chunk, n, buf, _first, _base, links) -> None:
        keep = selector.select(chunk, n, buf, links)[:n]
        for i in np.flatnonzero(keep).tolist():
            t_us = int(chunk.ts_ns[i]) // 1000
            got.append((t_us // 10**6, t_us % 10**6, int(chunk.wire[i])))

    _chunks(path, on_chunk)
    return got


@pytest.mark.parametrize("name", ["micro.pcap", "nano.pcap", "stepback.pcap.gz",
                                  "two-interfaces.pcapng"])
def test_as_tcpdump_reads_the_capture(name, tmp_path):
    """Every expression, length ones included: the packets kept are those libpcap keeps when
    it reads and filters the file itself (their times and wire lengths, in order)."""
    path = DATA / name
    if path.suffix == ".gz":
        plain = tmp_path / path.stem
        plain.write_bytes(gzip.decompress(path.read_bytes()))
        path = plain
    for expression in EXPRESSIONS + ["greater 1000", "less 100", "len >= 60 and tcp"]:
        assert _ours(path, expression) == _libpcap_reads(path, expression), expression
    assert len(_libpcap_reads(path, "greater 200")) > 0


def test_length_is_the_wire_length(tmp_path):
    """micro.pcap is captured to 128 bytes: ``greater 200`` keeps the packets of at least 200
    bytes on the wire, not none."""
    options = {"oversize": "clamp", "mtu": 65535}
    every, _ = read_with_adjustments(DATA / "micro.pcap", IngestOptions(**options))
    big, adjust = read_with_adjustments(DATA / "micro.pcap",
                                        IngestOptions(bpf="greater 200", **options))
    small, _ = read_with_adjustments(DATA / "micro.pcap", IngestOptions(bpf="less 199",
                                                                      **options))
    wire = every.size.astype(np.int64)
    assert big.rows == int((wire >= 200).sum()) > 0 and small.rows == int((wire <= 199).sum())
    assert big.rows + small.rows == every.rows == big.rows + adjust.filtered_out
    assert np.array_equal(big.size, every.size[wire >= 200])


def test_protochain_loops_back_over_extension_headers():
    """libpcap compiles ``protochain`` with backward jumps; they run, against libpcap."""
    program = compile_filter("ip6 protochain 6", 1)
    assert any(code == 0x05 and k >= 1 << 31 for code, _jt, _jf, k in program.get_bpf())
    eth = bytes(12) + b"\x86\xdd"
    tcp = bytes(20)

    def ip6(first: int, *hops: int) -> bytes:
        chain = b"".join(bytes([nxt, 0]) + bytes(6) for nxt in hops)
        return eth + bytes([0x60, 0, 0, 0, 0, len(chain) + 20, first, 64]) + bytes(32) + chain

    frames = [ip6(6) + tcp, ip6(0, 6) + tcp, ip6(0, 60, 6) + tcp,  # hop-by-hop, destination
              ip6(0, 0, 0, 6) + tcp, ip6(0, 17) + tcp, ip6(0, 0, 0, 6)[:-30], ip6(17) + tcp]
    got = _run(program.get_bpf(), *frames)
    assert got == [program.filter(f) != 0 for f in frames]
    assert got.count(True) >= 3 and got.count(False) >= 2


def test_a_program_that_never_returns_rejects_instead_of_hanging():
    forever = [(0x05, 0, 0, 0xFFFFFFFF), (0x06, 0, 0, 1)]  # ja -1: itself, again and again
    assert _run(forever, b"", b"x") == [False, False]


def test_raw_ip_captures_are_compiled_for_libpcaps_raw_link_type(tmp_path):
    """A pcap of LINKTYPE_RAW (101) is filtered as libpcap's DLT_RAW: the same packets as the
    Ethernet capture they were cut from."""
    data = (DATA / "micro.pcap").read_bytes()
    raw = bytearray(data[:20] + struct.pack("<I", 101))
    for sec, usec, incl, orig, frame in pcap_fields(data):
        raw += struct.pack("<IIII", sec, usec, incl - 14, orig - 14) + frame[14:]
    path = tmp_path / "raw.pcap"
    path.write_bytes(bytes(raw))
    for expression in ("tcp port 6379", "udp", "ip[2:2] > 300"):
        ether, _ = read_with_adjustments(DATA / "micro.pcap", IngestOptions(bpf=expression))
        cut, _ = read_with_adjustments(path, IngestOptions(bpf=expression))
        assert cut.rows == ether.rows > 0 and np.array_equal(cut.ts_ns, ether.ts_ns)


@pytest.mark.parametrize("name", ["micro.pcap", "h2.pcap", "two-interfaces.pcapng"])
def test_check_applies_the_filter(name):
    """``reflex-forge check --filter``: the rows are the packets libpcap keeps (they were
    every record: the option was ignored), the adjustments say how many were left out, and
    a place is the record's number in the file."""
    from reflexforge.ingest.check import check_file
    from reflexforge.ingest.read import capture_records

    every = check_file(DATA / name, IngestOptions())
    for expression in ("tcp", "udp or arp", "greater 200"):
        found = check_file(DATA / name, IngestOptions(bpf=expression))
        kept = len(_libpcap_reads(DATA / name, expression))
        assert found.fatal is None if kept else found.fatal.code == "E_CSV_EMPTY"
        assert found.rows == kept and every.rows - kept == found.adjust.filtered_out
        assert found.adjust.filter_expr == expression
        ts, _, _, record = capture_records(DATA / name, IngestOptions(bpf=expression))
        assert ts.shape == record.shape == (kept,) and np.all(np.diff(record) > 0)
    assert every.rows > found.rows > 0


@pytest.mark.parametrize("name", ["micro.pcap", "h2.pcap", "two-interfaces.pcapng"])
def test_check_counts_the_rtt_samples_the_readers_find(name):
    """``reflex-forge check --rtt tcp`` says how many RTT samples the trace would carry, as
    the reading commands' ``adjusted:`` line does (it said nothing), with and without a
    filter; with --oversize split or clamp the count is the same (a record's sample goes to
    its first piece)."""
    from reflexforge.ingest.check import check_file

    for bpf in (None, "tcp port 6379", "greater 200"):
        found = check_file(DATA / name, IngestOptions(bpf=bpf, rtt="tcp"))
        for oversize in ("split", "clamp"):
            _, adjust = read_with_adjustments(
                DATA / name, IngestOptions(bpf=bpf, rtt="tcp", oversize=oversize), min_span_ns=0)
            assert found.adjust.rtt_samples == adjust.rtt_samples
        assert "RTT samples" in " ".join(found.lines())
    assert found.adjust.rtt_samples > 0
    assert check_file(DATA / name, IngestOptions()).adjust.rtt_samples is None


def test_a_bad_filter_names_the_file_and_csv_refuses_it(tmp_path):
    """An expression libpcap cannot compile: E_USAGE naming the capture it was compiled
    for; --filter on CSV telemetry in ``check``: E_USAGE, as in every other command."""
    from reflexforge.ingest.check import check_file

    found = check_file(DATA / "h2.pcap", IngestOptions(bpf="bogus (("))
    assert found.fatal.code == "E_USAGE" and found.fatal.path == str(DATA / "h2.pcap")
    with pytest.raises(ForgeError) as info:
        read_with_adjustments(DATA / "h2.pcap", IngestOptions(bpf="bogus (("))
    assert info.value.path == str(DATA / "h2.pcap") and "syntax error" in info.value.message
    csv = tmp_path / "t.csv"
    csv.write_text("ts_ns,bytes\n0,100\n300000000,100\n")
    found = check_file(csv, IngestOptions(bpf="tcp"))
    assert found.fatal.code == "E_USAGE" and "captures only" in found.fatal.message
