"""Input files read through SHA-1: the telemetry hash of every reader.

One stream class serves every reader: buffered readers and decompressors call ``readinto``,
pyarrow's CSV reader calls ``read``; both feed the bytes they pass on into the hash.
"""

from __future__ import annotations

import hashlib
import io
from typing import IO

from reflexforge.errors import E_IO, ForgeError

DRAIN_BLOCK = 1 << 20


class HashingFile(io.RawIOBase):
    """A read-only binary stream over ``raw`` that feeds every byte read through it into
    SHA-1 (and into ``also``, a second hash, when given). Closing it closes ``raw`` if it
    ``owns`` it; otherwise ``raw`` stays open (a reader such as pyarrow may close the stream
    before the rest of the file is drained into the hash)."""

    def __init__(self, raw: IO[bytes], also=None, owns: bool = True) -> None:
        super().__init__()
        self._raw = raw
        self._owns = owns
        self._sha1 = hashlib.sha1()
        self._also = also

    def readable(self) -> bool:
        return True

    def _update(self, data) -> None:
        self._sha1.update(data)
        if self._also is not None:
            self._also.update(data)

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._update(data)
        return data

    def readinto(self, buffer) -> int:
        n = self._raw.readinto(buffer)
        if n:
            self._update(memoryview(buffer)[:n])
        return n or 0

    def drain(self, block: int = DRAIN_BLOCK) -> None:
        """Hash the rest of the file (bytes a decompressor or reader left unread)."""
        buffer = bytearray(block)
        while self.readinto(buffer):
            pass

    def hexdigest(self) -> str:
        return self._sha1.hexdigest()

    def close(self) -> None:
        if self._owns:
            self._raw.close()
        super().close()


def open_hashed(name: str, also=None) -> HashingFile:
    try:
        return HashingFile(open(name, "rb"), also)  # noqa: SIM115 - closed by the caller
    except OSError as exc:
        raise ForgeError(E_IO, f"cannot read: {exc.strerror or exc}", path=name) from None
