"""Input files read through SHA-1: the telemetry hash of every reader.

``HashingFile`` is a raw file (buffered readers call ``readinto``); ``HashingReader`` wraps a stream
whose ``read`` it passes on as is (pyarrow's CSV reader calls ``read``).
"""

from __future__ import annotations

import hashlib
import io
from typing import IO

from reflexforge.errors import E_IO, ForgeError


class HashingFile(io.RawIOBase):
    """A raw binary file that feeds every byte read through it into sha1 (and ``also``)."""

    def __init__(self, raw: IO[bytes], also=None) -> None:
        super().__init__()
        self._raw = raw
        self.sha1 = hashlib.sha1()
        self._also = also

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self._raw.readinto(buffer)
        if n:
            view = memoryview(buffer)[:n]
            self.sha1.update(view)
            if self._also is not None:
                self._also.update(view)
        return n or 0

    def drain(self) -> None:
        """Hash the rest of the file (bytes a decompressor or reader left unread)."""
        buffer = bytearray(1 << 20)
        while self.readinto(buffer):
            pass

    def close(self) -> None:
        self._raw.close()
        super().close()


def open_hashed(name: str, also=None) -> HashingFile:
    try:
        return HashingFile(open(name, "rb"), also)  # noqa: SIM115 - closed by the caller
    except OSError as exc:
        raise ForgeError(E_IO, f"cannot read: {exc.strerror or exc}", path=name) from None


class HashingReader(io.RawIOBase):
    """A read-only stream that feeds every byte it passes on into sha1."""

    def __init__(self, raw: IO[bytes], also=None) -> None:
        super().__init__()
        self._raw = raw
        self._sha1 = hashlib.sha1()
        self._also = also

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._sha1.update(data)
        if self._also is not None:
            self._also.update(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def drain(self, block: int) -> None:
        while self.read(block):
            pass

    def hexdigest(self) -> str:
        return self._sha1.hexdigest()
