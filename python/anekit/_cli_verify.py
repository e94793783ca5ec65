"""``python -m anekit verify path/to/model.mil [--backend ane|reference] [--json]``."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "verify", help="run a MIL program on a backend and on the reference executor and compare the outputs"
    )
    p.add_argument("path", help="a model.mil file or a .mlmodelc-style folder (model.mil + weights/)")
    p.add_argument(
        "--backend",
        choices=("ane", "reference", "best"),
        default="best",
        help="backend to check (default: the best usable one)",
    )
    p.add_argument("--function", default="main", help="function to run (default main)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import mil
    from .runtime import verify

    path = Path(args.path)
    if not path.exists():
        raise SystemExit(f"verify: {path} does not exist")
    # A folder is a .mlmodelc-style bundle; a file is MIL text whose BLOBFILE paths resolve beside it.
    program = mil.load(path)
    report = verify(
        program, backend=None if args.backend == "best" else args.backend, function=args.function, seed=args.seed
    )
    if args.json:
        print(
            json.dumps(
                {
                    "backend": report.backend,
                    "passed": report.passed,
                    "outputs": [o.__dict__ for o in report.outputs],
                },
                indent=2,
                default=float,
            )
        )
    else:
        print(report.format())
    return 0 if report.passed else 1
