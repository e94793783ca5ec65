"""``anekit verify MODEL [--backend best|ane|reference] [--json]``: a backend against the reference."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ._cli_common import SHAPES_HELP


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "verify",
        help="run a MIL program on a backend and compare its outputs with the reference executor",
        description="Run MODEL on random inputs on a backend and compare every output with the reference "
        "executor's ANE fp16 semantics. Off a Mac, the reference's fp16 semantics are compared with an fp64 "
        "run instead, which measures what fp16 costs this program.",
    )
    p.add_argument(
        "path",
        metavar="MODEL",
        help="a model.mil file, a .mlmodelc-style folder (model.mil + weights/), an .mlpackage or an .mlmodel",
    )
    p.add_argument(
        "--backend",
        choices=("ane", "reference", "best"),
        default="best",
        help="backend to check: the ANE, the reference executor, or the best usable one (default)",
    )
    p.add_argument("--function", default="main", help="function of the program to run (default main)")
    p.add_argument("--shapes", metavar="SHAPES", help=SHAPES_HELP)
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ._cli_common import load_program
    from .runtime import verify

    program = load_program(args.path, args.shapes)
    report = verify(
        program, backend=None if args.backend == "best" else args.backend, function=args.function, seed=args.seed
    )
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.format())
    return 0 if report.passed else 1
