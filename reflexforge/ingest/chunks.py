"""The chunk loop shared by the capture readers: a bounded buffer, records that straddle
chunks carried over, and one place that turns a walk status into an error with the record
number and byte offset (spec/telemetry.md 5.4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

import numpy as np

from reflexforge.errors import E_CAPTURE, E_IO, ForgeError
from reflexforge.ingest.records import CHUNK_BYTES
from reflexforge.ingest.sniff import decompress_errors

NEED_MORE, FULL = 0, 1
"""Walk statuses that are not errors (every format's walker uses these two values)."""
MAX_BLOCK = 16 << 20
"""Largest record or block held at once (libpcap's limit for pcapng blocks); a length
field asking for more is corruption, refused before anything is allocated."""


def _fill(name: str, stream: IO[bytes], buf: np.ndarray, end: int, offset: int) -> tuple[int, bool]:
    """Read into buf[end:] until it is full or the stream ends: (new end, at EOF)."""
    view = memoryview(buf)
    try:
        while end < buf.shape[0]:
            got = stream.readinto(view[end:])
            if not got:
                return end, True
            end += got
    except decompress_errors() as exc:
        raise ForgeError(E_CAPTURE, f"corrupt compressed data after byte offset "
                         f"{offset + end} of the decompressed stream ({exc})", path=name) from None
    except OSError as exc:
        if getattr(exc, "errno", None) is None:  # gzip's BadGzipFile and friends
            raise ForgeError(E_CAPTURE, f"corrupt compressed data after byte offset "
                             f"{offset + end} of the decompressed stream ({exc})",
                             path=name) from None
        raise ForgeError(E_IO, f"cannot read: {exc.strerror or exc}", path=name) from None
    return end, False


def read_head(name: str, stream: IO[bytes], size: int) -> bytes:
    """The first ``size`` bytes of ``stream`` (fewer when it ends sooner); a corrupt or
    truncated compressed stream is E_CAPTURE, as in ``drive``."""
    buf = np.empty(size, dtype=np.uint8)
    end, _ = _fill(name, stream, buf, 0, 0)
    return buf[:end].tobytes()


def drive(name: str, stream: IO[bytes], base_offset: int,
          step: Callable[[np.ndarray, int], tuple[int, int, int]],
          explain: Callable[[int, bytes], str],
          emit: Callable[[int, np.ndarray, int, int], None],
          need: Callable[[bytes], int],
          codes: dict[int, str] | None = None,
          where: Callable[[int, int], str] | None = None) -> int:
    """Read ``stream`` (positioned after a header of ``base_offset`` bytes) chunk by chunk.

    ``step(buf, end)`` walks the records of buf[0:end] and returns (records, consumed,
    status). ``emit(records, buf, first_record_index, offset of buf[0])`` takes them before
    the buffer moves on. A status other than NEED_MORE/FULL is an error at the next record,
    described by ``explain(status, its bytes)``, code E_CAPTURE unless ``codes`` says
    otherwise.
    ``need(first bytes of a record)`` is the bytes that record needs, so one longer than the
    buffer can be read whole (up to MAX_BLOCK). A file that ends inside a record is an error
    (E_CAPTURE, spec 5.4): a capture cut short while it was written. Errors name the place
    with ``where(records so far, byte offset)`` (default "record N at byte offset X").
    Returns the number of records.
    """
    place = where or (lambda done, at: f"record {done + 1} at byte offset {at}")
    buf = np.empty(2 * CHUNK_BYTES, dtype=np.uint8)
    end, offset, records, eof = 0, base_offset, 0, False
    while True:
        if not eof:
            end, eof = _fill(name, stream, buf, end, offset)
        n, consumed, status = step(buf, end)
        if n:
            emit(n, buf, records, offset)
            records += n
        if status not in (NEED_MORE, FULL):
            message = explain(status, bytes(buf[consumed : min(end, consumed + 64)]))
            raise ForgeError((codes or {}).get(status, E_CAPTURE),
                             f"{place(records, offset + consumed)}: {message}",
                             path=name)
        rest = end - consumed
        if status == NEED_MORE and consumed == 0 and end == buf.shape[0]:
            wanted = need(bytes(buf[:64]))  # one record longer than the buffer
            if wanted > MAX_BLOCK or wanted <= end:
                raise too_long(name, place(records, offset), wanted)
            bigger = np.empty(wanted + CHUNK_BYTES, dtype=np.uint8)
            bigger[:end] = buf[:end]
            buf = bigger
            continue
        if status == NEED_MORE and eof:
            if rest:
                wanted = need(bytes(buf[consumed : consumed + 64]))
                if wanted > MAX_BLOCK:
                    raise too_long(name, place(records, offset + consumed), wanted)
                raise truncated(name, place(records, offset + consumed), offset + consumed,
                                rest, wanted)
            return records
        if rest and consumed:
            buf[:rest] = buf[consumed:end]
        offset += consumed
        end = rest


def too_long(name: str, place: str, wanted: int) -> ForgeError:
    """E_CAPTURE for a length field beyond MAX_BLOCK (corruption, refused unread)."""
    return ForgeError(E_CAPTURE, f"{place}: length {wanted} exceeds the largest allowed "
                      f"({MAX_BLOCK}): corrupt length field", path=name)


def truncated(name: str, place: str, offset: int, present: int, wanted: int) -> ForgeError:
    """E_CAPTURE for a file that ends inside a record (wanted bytes, only present left)."""
    return ForgeError(E_CAPTURE, f"{place}: the file ends after "
                      f"{present} of its {wanted} bytes (a capture cut short while written); "
                      f"cut the file at byte {offset} (truncate -s {offset}, after "
                      "decompressing) to use the records before it", path=name)
