"""Spec 7: the CRC-32 is the file's last field; where it is stored and what it must be."""

from __future__ import annotations

import struct
import zlib

from reflexfmt.structs import CRC32_FORMAT

_CRC32 = struct.Struct(CRC32_FORMAT)
CRC32_SIZE = _CRC32.size


def stored_crc(data: bytes) -> int:
    """The checksum stored in the last bytes of a framed file ``data``."""
    return _CRC32.unpack_from(data, len(data) - CRC32_SIZE)[0]


def computed_crc(data: bytes) -> int:
    """The CRC-32 (zlib polynomial) of every byte of ``data`` before its checksum."""
    return zlib.crc32(memoryview(data)[: len(data) - CRC32_SIZE])
