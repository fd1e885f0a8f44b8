"""Options shared by the forge subcommands and their conversion to ``ForgeOptions``."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reflexforge.errors import E_IO, E_USAGE, ForgeError


def description(doc: str | None) -> str:
    """A command's --help description: the first paragraph of its docstring, without the
    reStructuredText literal quotes and line breaks."""
    first = (doc or "").split("\n\n")[0]
    return " ".join(first.replace("``", "").split())


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    value = _float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def lambda_value(text: str) -> float:
    """argparse type: --lambda, a finite number in 0..MAX_LAMBDA."""
    from reflexforge.config import MAX_LAMBDA

    value = _float(text)
    if not 0 <= value <= MAX_LAMBDA:
        raise argparse.ArgumentTypeError(
            f"must be a finite number in 0..{MAX_LAMBDA:g}, got {text!r}")
    return value


def int_range(lo: int, hi: int):
    """argparse type factory: an integer in lo..hi."""
    def parse(text: str) -> int:
        value = _int(text)
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be an integer in {lo}..{hi}, got {text!r}")
        return value

    return parse


def workers_value(text: str) -> int:
    """argparse type: --workers, an integer in 1..MAX_WORKERS."""
    from reflexforge.config import MAX_WORKERS

    return int_range(1, MAX_WORKERS)(text)


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def incumbent(text: str) -> tuple[int, int]:
    """argparse type: ``N,D`` such as ``16,1ms`` -> (N packets, D microseconds)."""
    from reflexforge.config import parse_incumbent

    try:
        return parse_incumbent(text)
    except (ValueError, ForgeError) as exc:
        raise argparse.ArgumentTypeError(
            exc.message if isinstance(exc, ForgeError) else str(exc)
        ) from None


def _int(text: str) -> int:
    try:
        return int(text.strip(), 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    return value


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """Add --lambda, --incumbent, --flush-cost-ns, --link-bps, --workers, --dask, --quiet."""
    group = parser.add_argument_group("forge options")
    group.add_argument(
        "--lambda",
        dest="lam",
        type=lambda_value,
        default=None,
        metavar="L",
        help="weight of the batch overhead in J = p95_us + L * overhead_us, 0..1e6 "
        "(default 0.1)",
    )
    group.add_argument(
        "--incumbent",
        type=incumbent,
        default=None,
        metavar="N,D",
        help="policy replayed for the features: N packets, delay D in us/ms (default 16,1ms)",
    )
    group.add_argument(
        "--flush-cost-ns",
        type=non_negative_int,
        default=None,
        metavar="NS",
        help="fixed cost of one flush in ns (default 5000)",
    )
    group.add_argument(
        "--link-bps",
        type=positive_int,
        default=None,
        metavar="BPS",
        help="link rate in bits per second (default 10000000000)",
    )
    group.add_argument(
        "--workers",
        type=workers_value,
        default=None,
        metavar="N",
        help="local worker processes for labelling, 1..256 (default: all cores; never more "
        "than the windows or 4 x the cores)",
    )
    group.add_argument(
        "--dask",
        default=None,
        metavar="ADDRESS",
        help="label on a Dask distributed scheduler, e.g. tcp://127.0.0.1:8786",
    )
    add_quiet_option(parser)


def add_quiet_option(parser: argparse.ArgumentParser) -> None:
    """Add --quiet (no progress bars) unless the parser already has it."""
    if any("--quiet" in action.option_strings for action in parser._actions):
        return
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress bars (they are also off when stderr is not a terminal)",
    )


def options_from_args(args: argparse.Namespace):
    """The ``ForgeOptions`` given on the command line; unset options keep their defaults."""
    from reflexforge.config import ForgeOptions

    given = {}
    for name in ("lam", "incumbent", "flush_cost_ns", "link_bps", "workers", "dask"):
        value = getattr(args, name, None)
        if value is not None:
            given[name] = value
    if "dask" in given:
        from reflexforge.parallel import check_dask_address

        check_dask_address(given["dask"])
    return ForgeOptions(**given)


def progress_enabled(args: argparse.Namespace) -> bool:
    """True unless --quiet was given (the bars also need stderr to be a terminal)."""
    return not getattr(args, "quiet", False)


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """Fail early, before any work, if ``path`` cannot be written as a file (E_IO)."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise ForgeError(E_IO, "output path is a directory", path=target)
    if not directory.is_dir():
        raise ForgeError(E_IO, f"output directory {str(directory)!r} does not exist", path=target)
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ForgeError(E_IO, f"output directory {str(directory)!r} is not writable", path=target)
    return target


@contextmanager
def naming_file(path: str | os.PathLike[str]) -> Iterator[None]:
    """A reflexfmt error raised inside is tagged with ``path``, so the command line reports
    ``PATH: CODE at offset ...`` (reflexforge.cli)."""
    from reflexfmt import ReflexFormatError

    try:
        yield
    except ReflexFormatError as exc:
        if getattr(exc, "file", None) is None:
            exc.file = os.fspath(path)
        raise


def load_model(path: str | os.PathLike[str]):
    """``reflexfmt.load`` with the file named in any format error."""
    from reflexfmt import load

    with naming_file(path):
        return load(path)


def dump_model(reflex, path: str | os.PathLike[str]) -> None:
    """``reflexfmt.dump`` (atomic) with the file named in any format error."""
    from reflexfmt import dump

    with naming_file(path):
        dump(reflex, path)


def _same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    if Path(a).resolve() == Path(b).resolve():
        return True
    try:
        return os.path.samefile(a, b)  # hard links, bind mounts
    except OSError:
        return False


def check_distinct_paths(inputs: dict[str, str | os.PathLike[str] | None],
                         outputs: dict[str, str | os.PathLike[str] | None]) -> None:
    """E_USAGE if an output is the same file as an input or as another output.

    Keys are the option names used in the message (``TELEMETRY``, ``-o``, ...); None values
    are options not given.
    """
    given_in = [(k, v) for k, v in inputs.items() if v is not None]
    given_out = [(k, v) for k, v in outputs.items() if v is not None]
    for i, (out_name, out_path) in enumerate(given_out):
        for in_name, in_path in given_in:
            if _same_file(out_path, in_path):
                raise ForgeError(E_USAGE, f"output {out_name} is the input {in_name}; it would "
                                 "be overwritten", path=out_path)
        for other_name, other_path in given_out[:i]:
            if _same_file(out_path, other_path):
                raise ForgeError(E_USAGE, f"outputs {other_name} and {out_name} are the same "
                                 "file", path=out_path)


def duration_ns(text: str) -> int:
    """argparse type: a duration such as ``10ms``, ``500us``, ``2s`` or ``7300000`` (ns)."""
    units = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
    stripped = text.strip()
    for suffix in ("ns", "us", "µs", "ms", "s"):
        if stripped.endswith(suffix):
            number, scale = stripped[: -len(suffix)], units[suffix]
            break
    else:
        number, scale = stripped, 1
    value = _float(number)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a duration >= 0, got {text!r}")
    return int(round(value * scale))


def add_telemetry_options(parser: argparse.ArgumentParser) -> None:
    """Add how telemetry files are read (spec/telemetry.md 6): --reorder-window, --oversize,
    --mtu, --filter, --rtt."""
    from reflexforge.ingest.options import add_ingest_arguments

    add_ingest_arguments(parser.add_argument_group("telemetry input (spec/telemetry.md 6)"),
                         duration_ns, int_range)


def read_input_trace(args: argparse.Namespace, path, also_hash=None):
    """Read a telemetry file of any supported format with the command's telemetry options;
    notes, adjustments and warnings are reported on stderr."""
    from reflexforge.ingest.options import ingest_options_from_args
    from reflexforge.ingest.read import read_trace

    return read_trace(path, ingest_options_from_args(args), also_hash=also_hash,
                      link_bps=getattr(args, "link_bps", None))
