"""``reflex-build DESC -o OUT``: write a .reflex file from a description in the --json shape.

DESC is JSON or YAML (``-`` reads stdin). The output is written atomically. Exit status: 0
written, 1 the description cannot make a valid file, 2 usage or I/O error (E_IO), 3 an
internal error (a bug), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
"""

from __future__ import annotations

import argparse
import sys

from reflexfmt.atomic import same_file
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

MAX_DESCRIPTION_BYTES = 1 << 20
"""Largest description read (the --json of the largest valid file is about 0.5 MB)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reflex-build",
        description="Build a NEM1 .reflex file from a JSON or YAML description in the shape "
        "printed by 'reflex-inspect --json' (spec/NEM1.md appendix A).",
        epilog="Exit status: 0 written, 1 invalid description, 2 usage or I/O error, "
        "3 internal error (a bug), 130 interrupted, 143 terminated (SIGTERM).",
    )
    parser.add_argument("description", metavar="DESC", help="JSON or YAML file, '-' for stdin")
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUT", help="output .reflex file ('-': stdout)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    closed = closed_stream(stdin=args.description == "-", stdout=args.output == "-")
    if closed is not None:
        return _fail(f"E_IO: {closed}", EXIT_USAGE)
    if "-" not in (args.description, args.output) and same_file(args.description, args.output):
        return _fail(f"{escape_control(args.output)}: E_USAGE: the output is the description "
                     "it is built from; it would be overwritten", EXIT_USAGE)
    try:
        with sigterm_raises():
            return _run(args.description, args.output)
    except KeyboardInterrupt:
        print("reflex-build: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print("reflex-build: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except BrokenPipeError:
        return stdout_closed()
    except Exception as exc:  # a bug: still one line, never a traceback
        message = f"reflex-build: E_INTERNAL: {type(exc).__name__}: {exc} (a bug)"
        print(escape_control(message), file=sys.stderr)
        return EXIT_INTERNAL


def _run(source: str, output: str) -> int:
    from reflexfmt.checksum import stored_crc
    from reflexfmt.errors import ReflexFormatError
    from reflexfmt.jsonshape import DescriptionError, from_document, parse_description
    from reflexfmt.writer import dumps

    shown = escape_control(source)
    try:
        raw = sys.stdin.buffer.read(MAX_DESCRIPTION_BYTES + 1) if source == "-" \
            else _read(source)
    except OSError as exc:
        return _fail(f"{shown}: E_IO: {exc.strerror or exc}", EXIT_USAGE)
    if len(raw) > MAX_DESCRIPTION_BYTES:
        return _fail(f"{shown}: E_DESCRIPTION: more than {MAX_DESCRIPTION_BYTES} bytes, "
                     "the limit", EXIT_INVALID)
    try:
        text = raw.decode("utf-8")
        reflex, crc = from_document(parse_description(text))
        data = dumps(reflex)
    except UnicodeDecodeError as exc:
        return _fail(f"{shown}: E_DESCRIPTION: not UTF-8 text (byte {exc.start})", EXIT_INVALID)
    except DescriptionError as exc:
        return _fail(f"{shown}: E_DESCRIPTION: {exc}", EXIT_INVALID)
    except ReflexFormatError as exc:
        return _fail(f"{shown}: {exc} (in the file the description makes)", EXIT_INVALID)
    except (ValueError, TypeError) as exc:
        return _fail(f"{shown}: E_DESCRIPTION: cannot write: {exc}", EXIT_INVALID)
    actual = stored_crc(data)
    if crc is not None and crc != actual:
        return _fail(
            f"{shown}: E_CRC: the description states crc32 0x{crc:08x}, the built file has "
            f"0x{actual:08x} (remove crc32 from an edited description)",
            EXIT_INVALID,
        )
    try:
        if output == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            from reflexfmt.atomic import atomic_write_bytes

            atomic_write_bytes(output, data)
    except OSError as exc:
        return _fail(f"{escape_control(output)}: E_IO: {exc.strerror or exc}", EXIT_USAGE)
    return EXIT_OK


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(MAX_DESCRIPTION_BYTES + 1)


def _fail(message: str, status: int) -> int:
    print(f"reflex-build: {escape_control(message)}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
