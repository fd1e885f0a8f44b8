"""What a telemetry file is, from its first bytes (never from its name): spec/telemetry.md 5.

A file is one container (Telemetry v1 CSV, pcap, pcapng or Parquet), optionally inside one
compression layer (gzip or zstd). ``sniff`` reads at most a few bytes of the file and of its
decompressed start; ``open_decompressed`` gives the container's bytes as a stream.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import zlib
from dataclasses import dataclass
from typing import IO

from reflexforge.errors import E_CSV_ENCODING, E_IO, ForgeError

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
PARQUET_MAGIC = b"PAR1"
PCAP_MAGICS: dict[bytes, tuple[str, int]] = {
    b"\xd4\xc3\xb2\xa1": ("<", 1000),  # little-endian, microseconds
    b"\xa1\xb2\xc3\xd4": (">", 1000),  # big-endian, microseconds
    b"\x4d\x3c\xb2\xa1": ("<", 1),  # little-endian, nanoseconds
    b"\xa1\xb2\x3c\x4d": (">", 1),  # big-endian, nanoseconds
}
"""pcap magic as stored -> (byte order, ns per unit of the fraction field)."""
MODIFIED_PCAP_MAGICS = (b"\x34\xcd\xb2\xa1", b"\xa1\xb2\xcd\x34")

CSV, PCAP, PCAPNG, PARQUET = "csv", "pcap", "pcapng", "parquet"
GZIP, ZSTD = "gzip", "zstd"
CAPTURES = (PCAP, PCAPNG)
_NAME_SAYS = {".csv": CSV, ".pcap": PCAP, ".cap": PCAP, ".pcapng": PCAPNG, ".ntar": PCAPNG,
              ".parquet": PARQUET, ".pq": PARQUET}
_COMPRESSED_NAME = {".gz": GZIP, ".zst": ZSTD, ".zstd": ZSTD}


@dataclass(frozen=True)
class Kind:
    """A file's container format and its compression layer (None: not compressed)."""

    container: str
    compression: str | None = None

    def describe(self) -> str:
        return self.container + (f" ({self.compression}-compressed)" if self.compression else "")


def _head(stream: IO[bytes], n: int) -> bytes:
    data = b""
    while len(data) < n and (chunk := stream.read(n - len(data))):
        data += chunk
    return data


def compression_of(path: str | os.PathLike[str]) -> str | None:
    """GZIP or ZSTD if the file starts with that magic, else None (E_IO if unreadable)."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as f:
            head = _head(f, 4)
    except OSError as exc:
        raise ForgeError(E_IO, f"cannot read: {exc.strerror or exc}", path=name) from None
    if head.startswith(GZIP_MAGIC):
        return GZIP
    if head.startswith(ZSTD_MAGIC):
        return ZSTD
    return None


def decompress_errors() -> tuple[type[BaseException], ...]:
    """Exceptions a corrupt compressed stream raises while it is read."""
    errors: list[type[BaseException]] = [EOFError, zlib.error, gzip.BadGzipFile]
    try:
        import zstandard

        errors.append(zstandard.ZstdError)
    except ImportError:
        pass
    return tuple(errors)


def open_decompressed(raw: IO[bytes], compression: str | None, name: str) -> IO[bytes]:
    """``raw``'s bytes, decompressed if ``compression`` says so (closing the result closes
    ``raw``)."""
    if compression == GZIP:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if compression == ZSTD:
        try:
            import zstandard
        except ImportError:
            raw.close()
            raise ForgeError(E_CSV_ENCODING, "a zstd-compressed file needs the 'zstandard' "
                             "package (pip install 'reflex-nem1[forge]')", path=name) from None
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True,
                                                            closefd=True)
        return io.BufferedReader(reader, 1 << 20)  # type: ignore[arg-type]
    return raw


def open_file(path: str | os.PathLike[str]) -> IO[bytes]:
    """The file's decompressed bytes (a stream to close), compression found by content."""
    name = os.fspath(path)
    compression = compression_of(name)
    try:
        raw = open(name, "rb")  # noqa: SIM115 - owned by the returned stream
    except OSError as exc:
        raise ForgeError(E_IO, f"cannot read: {exc.strerror or exc}", path=name) from None
    return open_decompressed(raw, compression, name)


def refuse_streams(name: str) -> None:
    """E_IO for a pipe, FIFO or socket: telemetry is opened more than once (its first bytes,
    then the whole), which a stream cannot give, and opening a FIFO with no writer blocks.
    ``os.stat`` does not block; a missing file is left to the open that follows. Character
    devices (``/dev/null``, ``/dev/zero``) are read as files, except a terminal, whose read
    would wait for typing (found by opening it non-blocking)."""
    if name == "-" and not os.path.exists(name):  # the usual spelling of stdin, a stream
        raise ForgeError(E_IO, "'-' would be standard input, which is not read (telemetry is "
                         "read twice): write it to a file first", path=name)
    try:
        mode = os.stat(name).st_mode
    except (OSError, ValueError):
        return
    if stat.S_ISCHR(mode) and _is_terminal(name):
        raise ForgeError(E_IO, "not a regular file (a terminal, whose read waits for "
                         "typing): give a file", path=name)
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        what = "a pipe or FIFO" if stat.S_ISFIFO(mode) else "a socket"
        raise ForgeError(E_IO, f"not a regular file ({what}): write it to a file first",
                         path=name)


def _is_terminal(name: str) -> bool:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError:
        return False  # left to the open that follows
    try:
        return os.isatty(fd)
    finally:
        os.close(fd)


def sniff(path: str | os.PathLike[str]) -> Kind:
    """The container and compression of ``path``, from its magic bytes.

    Anything that is not a capture or Parquet is taken to be CSV (its own reader reports
    what is wrong with it). E_IO if the file cannot be read, E_CSV_ENCODING if its
    compressed stream is corrupt at the start.
    """
    name = os.fspath(path)
    refuse_streams(name)
    compression = compression_of(name)
    try:
        with open_decompressed(open(name, "rb"), compression, name) as stream:
            head = _head(stream, 4)
    except OSError as exc:
        if compression is None or getattr(exc, "errno", None) is not None:
            raise ForgeError(E_IO, f"cannot read: {exc.strerror or exc}", path=name) from None
        raise ForgeError(E_CSV_ENCODING, f"not a valid {compression} file ({exc})",
                         path=name) from None
    except decompress_errors() as exc:
        raise ForgeError(E_CSV_ENCODING, f"not a valid {compression} file ({exc})",
                         path=name) from None
    if head in PCAP_MAGICS or head in MODIFIED_PCAP_MAGICS:
        return Kind(PCAP, compression)
    if head == PCAPNG_MAGIC:
        return Kind(PCAPNG, compression)
    if head == PARQUET_MAGIC:
        return Kind(PARQUET, compression)
    return Kind(CSV, compression)


def named_format(path: str | os.PathLike[str]) -> tuple[str | None, str | None, str]:
    """What the name of ``path`` says: (container or None, compression or None, the
    suffixes that say it, such as ``.csv.zst``)."""
    name = os.fspath(path).lower()
    stem, ext = os.path.splitext(name)
    said_compression = _COMPRESSED_NAME.get(ext)
    suffix = ext if said_compression is not None else ""
    if said_compression is not None:
        stem, ext = os.path.splitext(stem)
    said = _NAME_SAYS.get(ext)
    return said, said_compression, (ext if said is not None else "") + suffix


def name_mismatch(path: str | os.PathLike[str], kind: Kind) -> str | None:
    """A note when the file's name says another format than its content, else None."""
    said, said_compression, _ = named_format(path)
    if said is None and said_compression is None:
        return None
    if (said is None or said == kind.container) and said_compression == kind.compression:
        return None
    named = (said or "?") + (f" ({said_compression})" if said_compression else "")
    return (f"the name says {named} but the content is {kind.describe()}; "
            "read as what the content is")
