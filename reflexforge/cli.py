"""``reflex-forge``: the forge's command line.

Each subcommand lives in ``reflexforge/commands/<name>.py`` and exposes
``register(subparsers)``, which adds its parser and sets ``func(args) -> int``. Only the
module of the command being run is imported (``--help`` and ``--version`` import none), so
a command never pays for another's dependencies.
Errors become one line on stderr with a stable code (spec/telemetry.md, "Exit codes").
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import io
import os
import re
import sys
from collections.abc import Sequence

from reflexfmt.terminal import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_USAGE,
    Terminated,
    escape_control,
    sigterm_raises,
    stdout_closed,
)
from reflexforge.commands import COMMANDS, WITHOUT_KERNELS, WITHOUT_NUMBA
from reflexforge.errors import E_INSTALL, E_IO, E_MEMORY, E_USAGE, ForgeError
from reflexforge.openfiles import (
    OUT_OF_FILES,
    check_open_files,
    out_of_files,
    out_of_files_message,
)

PROG = "reflex-forge"


class ForgeArgumentParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one E_USAGE line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: {E_USAGE}: {escape_control(message)} (see --help)\n")
        sys.exit(EXIT_USAGE)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("reflex-nem1")
    except PackageNotFoundError:
        return "unknown"


class _Version(argparse.Action):
    """``--version``, with the installed version looked up only when asked for."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        sys.stdout.write(f"{PROG} {_version()}\n")
        parser.exit()


def chosen_command(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv``: its first argument that is not an option (the
    top-level parser has no option that takes a value)."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``reflex-forge`` parser: every command listed, ``command``'s parser complete."""
    parser = ForgeArgumentParser(
        prog=PROG,
        description=f"Forge .reflex models from packet telemetry: {', '.join(COMMANDS)}.",
    )
    parser.add_argument("--version", action=_Version)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, summary in COMMANDS.items():
        if name == command:
            importlib.import_module(f"reflexforge.commands.{name}").register(subparsers)
        else:
            subparsers.add_parser(name, help=summary, add_help=False)
    return parser


def _report(message: str) -> None:
    sys.stderr.write(escape_control(message) + "\n")
    sys.stderr.flush()


OUTPUT_OPTIONS = ("output", "training_set", "report", "plot")
"""The options that name an output file, by argparse dest."""


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; return its exit code (may raise).
    When an output is the standard output (``-o /dev/stdout``, ``--report /dev/stdout``),
    what the command prints goes to the standard error, so the output stays clean."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = chosen_command(argv)
    if command is not None and command not in WITHOUT_NUMBA:
        from reflexforge.memory import prepare_address_space

        check_open_files()
        prepare_address_space()  # before a command module imports numpy
    args = build_parser(command).parse_args(argv)  # no kernel is imported: --help is quick
    if command not in WITHOUT_KERNELS:
        import reflexforge.numbacache  # noqa: F401  (a kernel cache that cannot be saved)
    if _stdout_is_an_output(args):
        with contextlib.redirect_stdout(sys.stderr):
            return int(args.func(args) or 0)
    return int(args.func(args) or 0)


def _stdout_is_an_output(args: argparse.Namespace) -> bool:
    try:
        stdout = os.fstat(sys.stdout.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return False
    for dest in OUTPUT_OPTIONS:
        path = getattr(args, dest, None)
        if not isinstance(path, str):
            continue
        try:
            if os.path.samestat(os.stat(path), stdout):
                return True
        except (OSError, ValueError):
            continue
    return False


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run, and turn every failure into one stderr line and an exit code."""
    from reflexforge.config import source_date_epoch

    try:  # first, before numpy (which reads SOURCE_DATE_EPOCH) is imported
        if source_date_epoch() is None:
            # Set but empty means unset (spec/telemetry.md section 3); numpy's f2py, which
            # numba and scipy import, would read an empty value with int() and fail.
            os.environ.pop("SOURCE_DATE_EPOCH", None)
        # No linear algebra here, and the parallelism is processes: one BLAS thread, which
        # also spares OpenBLAS's per-thread buffers (address space under ulimit -v).
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    except ForgeError as exc:
        _report(f"{PROG}: {exc}")
        return EXIT_USAGE
    try:
        with sigterm_raises():
            return _run_reporting(argv)
    except Terminated:
        _report(f"{PROG}: terminated")
        return EXIT_TERMINATED


def _run_reporting(argv: Sequence[str] | None) -> int:
    """``run``, with every failure but SIGTERM turned into one line and an exit code."""
    try:
        return run(argv)
    except ForgeError as exc:  # the file it is about, or else the program, leads the line
        _report(str(exc) if exc.path is not None else f"{PROG}: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        _report(f"{PROG}: interrupted")
        return EXIT_INTERRUPTED
    except ModuleNotFoundError as exc:
        top = (exc.name or "").partition(".")[0]
        if not top or top in ("reflexforge", "reflexfmt"):
            return _internal(exc)  # our own module missing: a broken install or a bug
        _report(f"{PROG}: {E_INSTALL}: {exc.name} is not installed: the forge needs the "
                f"[forge] extra (pip install 'reflex-nem1[forge]', or '.[forge]' in a clone)")
        return EXIT_USAGE
    except BrokenPipeError:
        return stdout_closed()
    except MemoryError:  # outputs are staged or atomic: nothing is left
        return _out_of_memory()
    except (RuntimeError, ImportError) as exc:
        if not _SHORT_OF_MEMORY.search(str(exc)):
            return _internal(exc)
        if "can't start new thread" in str(exc):  # memory, or the process limit
            return _out_of_memory(" or a process limit reached (ulimit -u)")
        return _out_of_memory()  # a library's mapping (under ulimit -v)
    except OSError as exc:
        if exc.errno == errno.ENOMEM:
            return _out_of_memory()
        if exc.errno in OUT_OF_FILES:
            return _out_of_files(exc)
        where = exc.filename if exc.filename is not None else PROG
        reason = exc.strerror or str(exc) or type(exc).__name__
        _report(str(ForgeError(E_IO, reason, path=where)))
        return EXIT_USAGE
    except Exception as exc:
        from reflexfmt.errors import ReflexFormatError

        if isinstance(exc, ReflexFormatError):
            # A reflexfmt error, prefixed with the file it concerns when the command named it.
            name = getattr(exc, "file", None)
            _report(f"{name}: {exc}" if name else str(exc))
            return EXIT_USAGE
        return _internal(exc)


_SHORT_OF_MEMORY = re.compile(r"can't start new thread|failed to map segment|"
                              r"cannot allocate memory", re.IGNORECASE)
"""How Python says that a thread, and the loader that a library, found no memory."""


def _out_of_memory(other: str = "") -> int:
    _report(f"{PROG}: {E_MEMORY}: not enough memory for this input on this machine{other} "
            f"(free memory, or split the input into shorter files)")
    return EXIT_USAGE


def _out_of_files(exc: BaseException) -> int | None:
    """One E_IO line if ``exc`` comes of too many open files (``ulimit -n``), else None."""
    code = out_of_files(exc)
    if code is None:
        return None
    _report(f"{PROG}: {E_IO}: {out_of_files_message(code)}")
    return EXIT_USAGE


def _internal(exc: Exception) -> int:
    """A bug: one E_INTERNAL line and exit 3, or the traceback with REFLEX_FORGE_DEBUG; but
    an error that comes of too many open files (a library's, raised from EMFILE) is E_IO."""
    shown = _out_of_files(exc)
    if shown is not None:
        return shown
    if os.environ.get("REFLEX_FORGE_DEBUG"):
        raise exc
    _report(
        f"{PROG}: E_INTERNAL: {type(exc).__name__}: {exc} "
        "(a bug; set REFLEX_FORGE_DEBUG=1 for the traceback)"
    )
    return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
