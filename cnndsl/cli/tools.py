"""``fmt`` and ``diagram``: tools around the language, light like ``check`` (the standard
library and cnndsl only)."""

from __future__ import annotations

import argparse
import difflib
import sys

from ..errors import CnnDslError, printable
from .common import EXIT_MODEL, EXIT_OK, Subparsers, cannot_write, read, report


def add_parsers(sub: Subparsers) -> None:
    f = sub.add_parser(
        "fmt",
        help="format model files in the one canonical layout",
        description="Rewrite each model file in the canonical layout: one statement per "
        "line, bodies indented by two spaces, options in canonical order and spelling, "
        "comments kept where they were. The model the file describes does not change.",
        epilog="examples: cnndsl fmt models/*.cnn\n"
        "          cnndsl fmt --check models/*.cnn     exit 1 if a file would change (CI)\n"
        "          cnndsl fmt --diff model.cnn         show the change, write nothing",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    f.add_argument("files", nargs="+", metavar="FILE", help="model files ('-': stdin to stdout)")
    f.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file would change"
    )
    f.add_argument("--diff", action="store_true", help="write nothing; print a unified diff")
    f.set_defaults(func=cmd_fmt)
    from .diagram import add_parser

    add_parser(sub)


def cmd_fmt(args: argparse.Namespace) -> int:
    """Every file, even after a bad one; exit 1 on a syntax error, or with --check on a
    file that would change."""
    outcomes = [_fmt_file(path, args) for path in args.files]
    changed, failed = outcomes.count("changed"), outcomes.count("failed")
    _summary(changed, outcomes.count("unchanged"), failed, args.check or args.diff)
    if failed or (args.check and changed):
        return EXIT_MODEL
    return EXIT_OK


def _fmt_file(path: str, args: argparse.Namespace) -> str:
    """Format one file: "changed", "unchanged", "failed" or "" (stdin to stdout)."""
    from ..fmt import format_source

    text = ""
    try:
        text, name = read(path)
        new = format_source(text, name)
    except CnnDslError as err:
        if err.source is None:
            err.source = text
        report(err)
        return "failed"
    if path == "-" and not (args.check or args.diff):
        sys.stdout.write(new)
        return ""
    return _emit(path, printable(name), text, new, args)


def _emit(path: str, name: str, text: str, new: str, args: argparse.Namespace) -> str:
    """Report, show or write one file's new text."""
    old = text.replace("\r\n", "\n").replace("\r", "\n").removeprefix("\ufeff")
    if new == old:
        return "unchanged"
    if args.diff:
        _print_diff(old, new, name)
    if args.check:
        print(f"would reformat {name}", file=sys.stderr)
    elif not args.diff and _write(path, new):
        return "failed"
    return "changed"


def _print_diff(old: str, new: str, name: str) -> None:
    diff = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), name, name
    )
    sys.stdout.writelines(line if line.endswith("\n") else line + "\n" for line in diff)


def _write(path: str, text: str) -> bool:
    """True if the file could not be written (the error is printed)."""
    from ..safeio import write_text

    try:
        write_text(path, text)
    except OSError as exc:
        cannot_write(path, exc)
        return True
    return False


def _summary(changed: int, unchanged: int, failed: int, dry: bool) -> None:
    """ruff's closing line: ``2 files reformatted, 3 files left unchanged``."""

    def files(n: int) -> str:
        return f"{n} file{'s' if n != 1 else ''}"

    parts = []
    if changed:
        parts.append(f"{files(changed)} {'would be reformatted' if dry else 'reformatted'}")
    if unchanged:
        parts.append(f"{files(unchanged)} {'would be left' if dry else 'left'} unchanged")
    if failed:
        parts.append(f"{files(failed)} with errors")
    if parts:
        print(", ".join(parts), file=sys.stderr)
