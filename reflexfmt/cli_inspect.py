"""``reflex-inspect FILE...``: show, verify, dump or export NEM1 files.

Exit status: 0 every file is valid, 1 some file is invalid, 2 usage or I/O error (E_IO),
3 an internal error (a bug), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
Bad input never produces a traceback: one line names the file, the place and the problem.
"""

from __future__ import annotations

import argparse
import sys

from reflexfmt.errors import ReflexFormatError
from reflexfmt.limits import MAX_FILE_SIZE
from reflexfmt.reader import loads, read_file
from reflexfmt.terminal import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE,
    Terminated,
    closed_stream,
    escape_control,
    sigterm_raises,
    stdout_closed,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reflex-inspect",
        description="Show NEM1 .reflex files (spec/NEM1.md): header, features with scaling, "
        "trees (splits as int16 and raw units), bounds, metadata, CRC.",
        epilog="Exit status: 0 all files valid, 1 any file invalid, 2 usage or I/O error, "
        "3 internal error (a bug), 130 interrupted, 143 terminated (SIGTERM).",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--json", action="store_true", help="one canonical JSON document per file (appendix A)"
    )
    mode.add_argument(
        "--verify", action="store_true", help="one line per file: 'FILE: OK' or 'FILE: E_CODE ...'"
    )
    mode.add_argument(
        "--hexdump", action="store_true", help="every byte annotated with its field path"
    )
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help=".reflex file(s); '-' reads standard input")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    closed = closed_stream(stdin="-" in args.files, stdout=True)
    if closed is not None:
        print(f"reflex-inspect: E_IO: {closed}", file=sys.stderr)
        return EXIT_USAGE
    try:
        with sigterm_raises():
            return _run(args)
    except KeyboardInterrupt:
        print("reflex-inspect: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print("reflex-inspect: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except BrokenPipeError:
        return stdout_closed()
    except OSError as exc:  # every file read is handled in _run: this is writing stdout
        print(f"reflex-inspect: E_IO: {escape_control(exc.strerror or str(exc))} (standard "
              "output)", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # a bug: still one line, never a traceback
        message = f"reflex-inspect: E_INTERNAL: {type(exc).__name__}: {exc} (a bug)"
        print(escape_control(message), file=sys.stderr)
        return EXIT_INTERNAL


def _run(args: argparse.Namespace) -> int:
    status = EXIT_OK
    console = None
    for name in args.files:
        shown = escape_control(name)
        try:
            data = sys.stdin.buffer.read(MAX_FILE_SIZE + 1) if name == "-" else read_file(name)
        except OSError as exc:
            print(f"{shown}: E_IO: {escape_control(exc.strerror or str(exc))}", file=sys.stderr)
            status = EXIT_USAGE
            continue
        try:
            reflex = loads(data)
            error = None
        except ReflexFormatError as exc:
            reflex, error = None, exc
            status = max(status, EXIT_INVALID)
        line = f"{shown}: {escape_control(str(error))}" if error else f"{shown}: OK"
        if args.verify:
            print(line)
        elif args.hexdump:
            from reflexfmt.hexdump import render

            print(f"# {shown}")
            sys.stdout.write(render(data))
            if error:
                print(line, file=sys.stderr)
        elif args.json:
            if error:
                print(line, file=sys.stderr)
                continue
            from reflexfmt.jsonshape import dump_document, to_document

            sys.stdout.write(dump_document(to_document(reflex, data)))
        else:
            from rich.console import Console

            if error:
                print(line, file=sys.stderr)
                continue
            console = console or Console(highlight=False)
            from reflexfmt.pretty import render as pretty

            pretty(console, name, data, reflex)
    sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())
