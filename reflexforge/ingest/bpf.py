"""A classic BPF interpreter for ``--filter``: runs the program libpcap compiled, one compiled
loop per chunk of records (spec/telemetry.md 6.3).

Classic BPF is the BSD packet filter's machine (McCanne and Jacobson, 1993; Linux
``Documentation/networking/filter.rst``): a 32-bit accumulator A, an index register X and 16
scratch words M[]. This runs the subset libpcap emits (its ``bpf_filter()`` switch): LD and
LDX in the W/H/B sizes with the ABS/IND/MSH/IMM/LEN/MEM modes, ST, STX, ALU, JMP, RET, MISC
(TAX, TXA), with libpcap's semantics: a load past the captured bytes rejects the packet
(returns 0), so does a division or modulus by zero; a shift by 32 or more gives 0; the
packet is kept when the value returned is nonzero. ``ja`` takes its offset as a signed
32-bit number, as ``bpf_filter()`` does: libpcap's ``protochain`` loops back over the
extension headers. libpcap stays the compiler: this only checks its programs (known opcodes,
scratch index < 16, jumps that land inside the program, a return at the end), and a run
that takes more than ``MAX_STEPS`` instructions rejects its packet, so no program and no
packet can make the loop hang.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit

from reflexforge.errors import E_USAGE, ForgeError

MEMWORDS = 16
MAX_STEPS = 1 << 21
"""Instructions one packet may take (a forward-only program takes at most its length; a
``protochain`` loop about 20 per extension header of at least 8 bytes)."""
_M32 = 0xFFFFFFFF

OPCODES: dict[int, str] = {
    0x20: "ld [k]", 0x28: "ldh [k]", 0x30: "ldb [k]",
    0x40: "ld [x+k]", 0x48: "ldh [x+k]", 0x50: "ldb [x+k]",
    0x00: "ld #k", 0x01: "ldx #k", 0x80: "ld #len", 0x81: "ldx #len",
    0x60: "ld M[k]", 0x61: "ldx M[k]", 0xB1: "ldxb 4*([k]&0xf)",
    0x02: "st M[k]", 0x03: "stx M[k]",
    0x04: "add #k", 0x14: "sub #k", 0x24: "mul #k", 0x34: "div #k", 0x94: "mod #k",
    0x54: "and #k", 0x44: "or #k", 0xA4: "xor #k", 0x64: "lsh #k", 0x74: "rsh #k",
    0x0C: "add x", 0x1C: "sub x", 0x2C: "mul x", 0x3C: "div x", 0x9C: "mod x",
    0x5C: "and x", 0x4C: "or x", 0xAC: "xor x", 0x6C: "lsh x", 0x7C: "rsh x", 0x84: "neg",
    0x05: "ja", 0x15: "jeq #k", 0x25: "jgt #k", 0x35: "jge #k", 0x45: "jset #k",
    0x1D: "jeq x", 0x2D: "jgt x", 0x3D: "jge x", 0x4D: "jset x",
    0x06: "ret #k", 0x16: "ret a", 0x07: "tax", 0x87: "txa",
}
"""Every opcode libpcap's ``bpf_filter()`` runs, with its mnemonic (as ``tcpdump -d``)."""
_MEMORY = (0x60, 0x61, 0x02, 0x03)
_JA = 0x05
_BPF_JMP, _BPF_RET = 0x05, 0x06


def load_program(insns: Sequence[tuple[int, int, int, int]], what: str) -> np.ndarray:
    """The (code, jt, jf, k) instructions as an int64 array for ``filter_records``, after
    checking that the interpreter can run them to a return; E_USAGE naming the first
    instruction it cannot run (``what`` says which filter)."""
    m = len(insns)
    for i, (code, jt, jf, k) in enumerate(insns):
        fault = None
        if code not in OPCODES:
            fault = "is not one the interpreter runs"
        elif code in _MEMORY and k >= MEMWORDS:
            fault = f"uses scratch word {k} (there are {MEMWORDS})"
        elif code == _JA and not 0 <= i + 1 + _signed(k) < m:
            fault = "jumps outside the program"
        elif code & 0x07 == _BPF_JMP and code != _JA and i + 1 + max(jt, jf) >= m:
            fault = "jumps past the end of the program"
        if fault is not None:
            raise ForgeError(E_USAGE, f"{what}: instruction {i} of libpcap's program (opcode "
                             f"0x{code:02x} {OPCODES.get(code, '?')}, jt {jt}, jf {jf}, k {k}) "
                             f"{fault}")
    if m == 0 or insns[-1][0] & 0x07 != _BPF_RET:
        raise ForgeError(E_USAGE, f"{what}: libpcap's program does not end with a return")
    prog = np.array(insns, dtype=np.int64).reshape(m, 4)
    prog[:, 3] = [_signed(k) if code == _JA else k for code, _jt, _jf, k in insns]
    return prog


def _signed(k: int) -> int:
    """A 32-bit ``k`` as the signed offset of ``ja``."""
    return k - (1 << 32) if k >= 1 << 31 else k


@njit(cache=True, nogil=True)
def _run(prog: np.ndarray, pc: int, buf: np.ndarray, base: int, buflen: int, wirelen: int,
         mem: np.ndarray) -> int:
    """Run the program at row ``pc`` on ``buf[base : base + buflen]``: the value returned
    (0 after ``MAX_STEPS`` instructions)."""
    a = 0
    x = 0
    for _ in range(MAX_STEPS):
        code = prog[pc, 0]
        k = prog[pc, 3]
        if code == 0x28 or code == 0x48:  # ldh [k], ldh [x+k]
            at = k + x if code == 0x48 else k
            if at + 2 > buflen:
                return 0
            a = (np.int64(buf[base + at]) << 8) | np.int64(buf[base + at + 1])
        elif code == 0x30 or code == 0x50:  # ldb [k], ldb [x+k]
            at = k + x if code == 0x50 else k
            if at >= buflen:
                return 0
            a = np.int64(buf[base + at])
        elif code == 0x20 or code == 0x40:  # ld [k], ld [x+k]
            at = k + x if code == 0x40 else k
            if at + 4 > buflen:
                return 0
            a = 0
            for j in range(4):
                a = (a << 8) | np.int64(buf[base + at + j])
        elif code & 0x07 == 0x05:  # jumps
            if code == 0x05:
                pc += k  # signed (load_program)
            else:
                b = x if code & 0x08 else k
                op = code & 0xF0
                if op == 0x10:
                    hit = a == b
                elif op == 0x20:
                    hit = a > b
                elif op == 0x30:
                    hit = a >= b
                else:
                    hit = (a & b) != 0
                pc += prog[pc, 1] if hit else prog[pc, 2]
        elif code == 0xB1:  # ldxb 4*([k]&0xf)
            if k >= buflen:
                return 0
            x = (np.int64(buf[base + k]) & 0xF) << 2
        elif code == 0x06:
            return k
        elif code == 0x16:
            return a
        elif code & 0x07 == 0x04:  # alu
            op = code & 0xF0
            b = x if code & 0x08 else k
            if op == 0x00:
                a = (a + b) & _M32
            elif op == 0x10:
                a = (a - b) & _M32
            elif op == 0x20:
                a = (a * b) & _M32
            elif op == 0x30 or op == 0x90:
                if b == 0:
                    return 0
                a = a // b if op == 0x30 else a % b
            elif op == 0x50:
                a &= b
            elif op == 0x40:
                a |= b
            elif op == 0xA0:
                a ^= b
            elif op == 0x60:
                a = (a << b) & _M32 if b < 32 else 0
            elif op == 0x70:
                a = a >> b if b < 32 else 0
            else:  # 0x80 neg
                a = (-a) & _M32
        elif code == 0x00:
            a = k
        elif code == 0x01:
            x = k
        elif code == 0x80:
            a = wirelen
        elif code == 0x81:
            x = wirelen
        elif code == 0x60:
            a = mem[k]
        elif code == 0x61:
            x = mem[k]
        elif code == 0x02:
            mem[k] = a
        elif code == 0x03:
            mem[k] = x
        elif code == 0x07:
            x = a
        else:  # 0x87 txa (load_program lets no other opcode through)
            a = x
        pc += 1
    return 0


@njit(cache=True, nogil=True)
def filter_records(prog: np.ndarray, starts: np.ndarray, buf: np.ndarray, offset: np.ndarray,
                   caplen: np.ndarray, wirelen: np.ndarray, iface: np.ndarray, n: int,
                   keep: np.ndarray) -> int:
    """keep[i] for records 0..n-1: whether the program of the record's interface (at row
    ``starts[iface[i]]`` of ``prog``; the one program when ``starts`` has one entry) returns
    nonzero on its captured bytes ``buf[offset[i] : offset[i] + caplen[i]]``, ``wirelen[i]``
    being the length ``ld #len`` gives. A, X and the scratch words start at 0 for each
    record. Returns how many are kept."""
    mem = np.zeros(MEMWORDS, np.int64)
    single = starts.shape[0] == 1
    kept = 0
    for i in range(n):
        p = 0 if single else iface[i]
        if p < 0 or p >= starts.shape[0]:
            raise IndexError("record of an interface without a filter program")
        mem[:] = 0
        ok = _run(prog, starts[p], buf, offset[i], caplen[i], wirelen[i], mem) != 0
        keep[i] = ok
        kept += ok
    return kept
