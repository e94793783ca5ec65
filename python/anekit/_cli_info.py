"""``anekit info [--json]``: what this installation can do."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("info", help="platform, backends and why the ANE is (not) usable")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ._info import format_info, info

    print(format_info(info(), as_json=args.json))
    return 0
