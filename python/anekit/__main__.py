"""``anekit <command>`` (also ``python -m anekit``): the command-line interface.

Each command lives in its own module exposing ``register(subparsers)``, which adds a sub-parser whose
``func`` attribute runs the command and returns the exit status. :func:`main` is the one place that turns
exceptions into ``error: ...`` / ``hint: ...`` lines and exit status 2 (``--traceback`` shows the traceback).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ._cli_common import report_error

#: Command modules, in the order they are listed in ``--help``.
COMMAND_MODULES: tuple[str, ...] = (
    "anekit._cli_info",
    "anekit._cli_demo",
    "anekit._cli_check",
    "anekit._cli_explain",
    "anekit._cli_verify",
    "anekit._cli_run",
    "anekit._cli_doctor",
    "anekit._cli_bench",
    "anekit._cli_generate",
)


def _version() -> str:
    try:
        from . import __version__
    except ImportError as exc:  # the extension is missing: still answer --version, from the package metadata
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"{version('anekit')} (native extension not importable: {exc})"
        except PackageNotFoundError:
            return f"unknown (native extension not importable: {exc})"
    return __version__


class _VersionAction(argparse.Action):
    """``--version`` that imports the package only when asked (``--help`` stays fast)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="print anekit's version")

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        print(f"anekit {_version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anekit",
        description="anekit: program Apple's Neural Engine directly (also runs as `python -m anekit`)",
    )
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument(
        "--traceback", action="store_true", help="on an error, show the Python traceback (for bug reports)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``) and return the exit status.

    0: success; 1: the command's verdict is negative (findings with errors, a failed verification, an
    unhealthy doctor report); 2: the command could not do its job (printed as ``error:`` and ``hint:``).
    """
    words = list(sys.argv[1:] if argv is None else argv)
    # --traceback is accepted anywhere on the line (people add it after the failing command's arguments).
    traceback = "--traceback" in words
    args = build_parser().parse_args([w for w in words if w != "--traceback"])
    args.traceback = traceback
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:  # a subcommand's own exit: a message becomes an error line, a status passes
        if exc.code is None or isinstance(exc.code, int):
            return int(exc.code or 0)
        return report_error(ValueError(str(exc.code)), args.command)
    except Exception as exc:
        if args.traceback:
            raise
        return report_error(exc, args.command)


if __name__ == "__main__":
    sys.exit(main())
