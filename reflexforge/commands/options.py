"""Option groups shared by the forge commands, their conversion to ``ForgeOptions``, and the
telemetry read they configure."""

from __future__ import annotations

import argparse

from reflexforge.commands.argtypes import (
    duration_ns,
    incumbent,
    int_range,
    lambda_value,
    link_bps_value,
    workers_value,
)
from reflexforge.config import MAX_FLUSH_COST_NS


def shown(line: str) -> str:
    """A message line as printed: each byte of a file name that is not UTF-8 written
    ``\\xff`` and each terminal control character escaped (reflexfmt.terminal)."""
    from reflexfmt.terminal import escape_control, path_text

    return escape_control(path_text(line))


def say(console, line: str) -> None:
    """Print one message line on a rich ``console`` as :func:`shown`, without markup."""
    console.print(shown(line), highlight=False, markup=False, soft_wrap=True)


def description(doc: str | None) -> str:
    """A command's --help description: the first paragraph of its docstring, without the
    reStructuredText literal quotes and line breaks."""
    first = (doc or "").split("\n\n")[0]
    return " ".join(first.replace("``", "").split())


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
        type=int_range(0, MAX_FLUSH_COST_NS),
        default=None,
        metavar="NS",
        help=f"fixed cost of one flush in ns, 0..{MAX_FLUSH_COST_NS} (default 5000)",
    )
    group.add_argument(
        "--link-bps",
        type=link_bps_value,
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
        help="no progress bars (also off when stderr is not a terminal); build, train and "
        "shadow print one summary line instead of their tables",
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
        from reflexforge.errors import E_USAGE, ForgeError
        from reflexforge.parallel import check_dask_address

        if "workers" in given:
            raise ForgeError(E_USAGE, "--workers and --dask are alternatives (local processes "
                             "or the cluster's workers): give one")
        check_dask_address(given["dask"])
    return ForgeOptions(**given)


def progress_enabled(args: argparse.Namespace) -> bool:
    """True unless --quiet was given (the bars also need stderr to be a terminal)."""
    return not getattr(args, "quiet", False)


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
