"""``reflex-forge``: the forge's command line.

Each subcommand lives in ``reflexforge/commands/<name>.py`` and exposes
``register(subparsers)``, which adds its parser and sets ``func(args) -> int``.
Errors become one line on stderr with a stable code (spec/telemetry.md, "Exit codes").
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from reflexforge.errors import E_IO, E_USAGE, ForgeError, _one_line

COMMANDS = ("synth", "label", "train", "build", "demo", "shadow", "convert", "check")

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3  # not 1: shadow and demo exit 1 for "not promoted"
EXIT_INTERRUPTED = 130

PROG = "reflex-forge"


class ForgeArgumentParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one E_USAGE line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: {E_USAGE}: {_one_line(message)} (see --help)\n")
        sys.exit(EXIT_BAD_INPUT)


def _load_command(name: str):
    """Import ``reflexforge.commands.<name>``; None if that module does not exist (yet)."""
    module_name = f"reflexforge.commands.{name}"
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("reflex-nem1")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The full ``reflex-forge`` parser with every installed subcommand."""
    parser = ForgeArgumentParser(
        prog=PROG,
        description="Forge .reflex models from packet telemetry: synth, label, train, build, "
        "demo, shadow, convert, check.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = _load_command(name)
        if module is not None:
            module.register(subparsers)
    return parser


def _report(message: str) -> None:
    sys.stderr.write(_one_line(message) + "\n")
    sys.stderr.flush()


def _format_error_line(exc: BaseException) -> str:
    """A reflexfmt error, prefixed with the file it concerns when the command named it."""
    name = getattr(exc, "file", None)
    return _one_line(f"{name}: {exc}" if name else str(exc))


def _reflex_format_error() -> type[BaseException] | None:
    try:
        from reflexfmt import ReflexFormatError
    except ImportError:
        return None
    return ReflexFormatError


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; return its exit code (may raise)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run, and turn every failure into one stderr line and an exit code."""
    from reflexforge.config import source_date_epoch

    try:  # first, before numpy (which reads SOURCE_DATE_EPOCH) is imported
        source_date_epoch()
    except ForgeError as exc:
        _report(f"{PROG}: {exc}")
        return EXIT_BAD_INPUT
    format_error = _reflex_format_error()
    try:
        return run(argv)
    except ForgeError as exc:
        _report(str(exc))
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        _report(f"{PROG}: interrupted")
        return EXIT_INTERRUPTED
    except OSError as exc:
        where = exc.filename if exc.filename is not None else PROG
        reason = exc.strerror or str(exc) or type(exc).__name__
        _report(str(ForgeError(E_IO, reason, path=where)))
        return EXIT_BAD_INPUT
    except Exception as exc:
        if format_error is not None and isinstance(exc, format_error):
            _report(_format_error_line(exc))
            return EXIT_BAD_INPUT
        if os.environ.get("REFLEX_FORGE_DEBUG"):
            raise
        _report(
            f"{PROG}: E_INTERNAL: {type(exc).__name__}: {exc} "
            "(a bug; set REFLEX_FORGE_DEBUG=1 for the traceback)"
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
