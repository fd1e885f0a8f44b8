"""training-set.csv (spec/forge.md section 6): the labelled windows, written and read back.

``reflexforge.labelling`` makes them."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

import numpy as np

from reflexfmt import FEATURE_NAMES
from reflexfmt.atomic import atomic_open
from reflexforge.config import GRID_D_US, GRID_N
from reflexforge.errors import E_TRAINSET, ForgeError

COLUMNS: tuple[str, ...] = (
    "window_start_ns", *FEATURE_NAMES, "flush_threshold", "max_batch_delay_us", "J",
)
HEADER = ",".join(COLUMNS)

_INT = re.compile(r"-?[0-9]+")
_FLOAT = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


@dataclass(frozen=True)
class TrainingSet:
    """One row per labelled window, in window order."""

    window_start_ns: np.ndarray  # int64[n]
    X: np.ndarray  # float64[n, 10], feature schema v1 order, raw units
    flush_threshold: np.ndarray  # int64[n], packets
    max_batch_delay_us: np.ndarray  # int64[n]
    J: np.ndarray  # float64[n], the oracle's J of the chosen pair

    def __len__(self) -> int:
        return int(self.window_start_ns.shape[0])


def check_features(path: str | os.PathLike[str], got: np.ndarray, want: np.ndarray) -> None:
    """``got`` (the training set's X) must equal ``want`` (recomputed) bit for bit, else
    E_TRAINSET naming the first differing line and column."""
    got = np.ascontiguousarray(got, dtype=np.float64)
    want = np.ascontiguousarray(want, dtype=np.float64)
    if got.shape != want.shape:
        raise ForgeError(E_TRAINSET, f"features of shape {got.shape}, the telemetry gives "
                         f"{want.shape}", path=path)
    differ = np.argwhere(got.view(np.uint64) != want.view(np.uint64))
    if differ.shape[0]:
        row, col = (int(v) for v in differ[0])
        raise ForgeError(E_TRAINSET, f"{float(got[row, col])!r} is not the feature the "
                         f"telemetry gives under these options ({float(want[row, col])!r}; "
                         "labelled with "
                         "another --incumbent, --flush-cost-ns or --link-bps, or edited?)",
                         path=path, line=row + 2, column=FEATURE_NAMES[col])


def format_training_set(ts: TrainingSet) -> bytes:
    """The exact bytes of training-set.csv: header, one row per window, LF line ends."""
    lines = [HEADER]
    for start, x, n, d, j in zip(ts.window_start_ns.tolist(), ts.X.tolist(),
                                 ts.flush_threshold.tolist(), ts.max_batch_delay_us.tolist(),
                                 ts.J.tolist(), strict=True):
        lines.append(",".join([str(start), *map(repr, x), str(n), str(d), repr(j)]))
    return ("\n".join(lines) + "\n").encode("ascii")


def write_training_set(path: str | os.PathLike[str], ts: TrainingSet) -> None:
    """Write training-set.csv atomically (no partial file is ever left at ``path``)."""
    data = format_training_set(ts)
    with atomic_open(path, "wb") as handle:
        handle.write(data)


MAX_TRAINING_SET_BYTES = 256 << 20
"""Most bytes read from a training-set.csv (about 750,000 windows)."""


def read_training_set(path: str | os.PathLike[str]) -> TrainingSet:
    """Read and check training-set.csv; any problem is ForgeError(E_TRAINSET) naming the line
    and column."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_TRAINING_SET_BYTES + 1)
    except OSError as exc:
        raise ForgeError("E_IO", f"cannot read: {exc.strerror or exc}", path=path) from None
    if len(data) > MAX_TRAINING_SET_BYTES:
        raise ForgeError(E_TRAINSET, f"larger than {MAX_TRAINING_SET_BYTES} bytes, the limit "
                         "(spec/forge.md section 6)", path=path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ForgeError(E_TRAINSET, "not valid UTF-8", path=path, line=line) from None
    return parse_training_set(text, path)


def _fail(path, line: int, column: str | None, message: str) -> ForgeError:
    return ForgeError(E_TRAINSET, message, path=path, line=line, column=column)


def parse_training_set(text: str, path: str | os.PathLike[str] = "training-set.csv") -> TrainingSet:
    """Parse the text of a training-set.csv (see read_training_set)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
    if not lines:
        raise _fail(path, 1, None, "empty file: expected the header " + HEADER)
    header = lines[0].lstrip("\ufeff").split(",")
    if tuple(header) != COLUMNS:
        for index, name in enumerate(COLUMNS):
            if index >= len(header) or header[index] != name:
                got = repr(header[index]) if index < len(header) else "nothing"
                raise _fail(path, 1, index + 1, f"column {index + 1} must be {name!r}, got {got}")
        raise _fail(path, 1, len(COLUMNS) + 1,
                    f"unexpected extra column {header[len(COLUMNS)]!r}")
    if len(lines) == 1:
        raise _fail(path, 2, None, "no rows: the training set holds no windows")
    n = len(lines) - 1
    starts = np.empty(n, dtype=np.int64)
    X = np.empty((n, 10), dtype=np.float64)
    thresholds = np.empty(n, dtype=np.int64)
    delays = np.empty(n, dtype=np.int64)
    J = np.empty(n, dtype=np.float64)
    previous = None
    for row, line in enumerate(lines[1:]):
        number = row + 2
        fields = line.split(",")
        if len(fields) != len(COLUMNS):
            raise _fail(path, number, None,
                        f"expected {len(COLUMNS)} fields, got {len(fields)}")
        start = _parse_int(fields[0], path, number, COLUMNS[0])
        if not 0 <= start <= 2**62:
            raise _fail(path, number, COLUMNS[0], f"must be in 0..2^62, got {fields[0]!r}")
        if previous is not None and start <= previous:
            raise _fail(path, number, COLUMNS[0],
                        f"window starts must increase, got {start} after {previous}")
        previous = start
        starts[row] = start
        for col in range(10):
            X[row, col] = _parse_float(fields[1 + col], path, number, COLUMNS[1 + col])
        thresholds[row] = _parse_choice(fields[11], path, number, COLUMNS[11], GRID_N)
        delays[row] = _parse_choice(fields[12], path, number, COLUMNS[12], GRID_D_US)
        J[row] = _parse_float(fields[13], path, number, COLUMNS[13])
    return TrainingSet(window_start_ns=starts, X=X, flush_threshold=thresholds,
                       max_batch_delay_us=delays, J=J)


def _parse_int(text: str, path, line: int, column: str) -> int:
    if not _INT.fullmatch(text):
        raise _fail(path, line, column, f"expected an integer, got {text!r}")
    return int(text)


def _parse_float(text: str, path, line: int, column: str) -> float:
    if not _FLOAT.fullmatch(text):
        raise _fail(path, line, column, f"expected a finite number, got {text!r}")
    value = float(text)
    if not math.isfinite(value):
        raise _fail(path, line, column, f"expected a finite number, got {text!r}")
    return value


def _parse_choice(text: str, path, line: int, column: str, allowed: tuple[int, ...]) -> int:
    value = _parse_int(text, path, line, column)
    if value not in allowed:
        raise _fail(path, line, column,
                    f"must be one of {', '.join(map(str, allowed))}, got {text!r}")
    return value
