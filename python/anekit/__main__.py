"""``python -m anekit <command>``: the command-line interface.

Each command lives in its own module exposing ``register(subparsers)``, which adds a sub-parser whose
``func`` attribute runs the command and returns the exit status.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: Command modules, in the order they are listed in ``--help``.
COMMAND_MODULES: tuple[str, ...] = (
    "anekit._cli_info",
    "anekit._cli_demo",
    "anekit._cli_verify",
    "anekit._cli_check",
    "anekit._cli_doctor",
    "anekit._cli_bench",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m anekit", description="anekit: program Apple's Neural Engine")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
