"""``anekit bench [SUITE ...]``: run the ANE benchmark suite (see :mod:`anekit.bench` and docs/bench.md).

Bad input (unknown suite, an unusable backend, an output path that cannot be written, a compare file that is
not a result file, plots without matplotlib) is reported as ``error: ...`` with exit status 2 *before*
anything runs. Exit status 1 when a figure was flagged (outputs not matching the reference, or a row that
could not run); 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    from .bench.suites import SUITE_NAMES

    p: argparse.ArgumentParser = sub.add_parser(
        "bench",
        help="run the ANE benchmark suite (verified figures, JSON, plots, comparison)",
        description="Run the ANE benchmark suites; every figure is checked against the reference executor. "
        f"Suites: {', '.join(SUITE_NAMES)} (default: all).",
    )
    p.add_argument("suites", nargs="*", metavar="SUITE", help="suites to run (default: all)")
    p.add_argument("--backend", choices=("ane", "reference"), default=None, help="default: the ANE when usable")
    p.add_argument("--quick", action="store_true", help="fewer sizes, short timing, within one compile budget")
    p.add_argument("--json", metavar="FILE", help="write the result file (format: docs/bench.md)")
    p.add_argument("--plots", metavar="DIR", help="write the figures as DIR/<name>.png (needs matplotlib)")
    p.add_argument("--compare", metavar="FILE", help="print per-row ratios against a saved result file")
    p.add_argument("--no-fake", action="store_true", help="off a Mac: do not also time dispatch via the fake")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--schema", action="store_true", help="print the result file's JSON Schema and exit")
    p.set_defaults(func=run, _parser=p)


def _writable_file(path: str) -> str | None:
    target = Path(path)
    if target.is_dir():
        return f"--json {path}: is a directory"
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        return f"--json {path}: directory {str(parent)!r} does not exist"
    if not os.access(parent, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        return f"--json {path}: not writable"
    return None


def _plots_dir(path: str) -> str | None:
    target = Path(path)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"--plots {path}: cannot create the directory ({exc.strerror or exc})"
    if not os.access(target, os.W_OK):
        return f"--plots {path}: not writable"
    return None


def run(args: argparse.Namespace) -> int:
    from . import bench
    from .bench.plots import require_matplotlib
    from .errors import AneUnavailableError

    parser: argparse.ArgumentParser = args._parser
    if args.schema:
        print(json.dumps(bench.SCHEMA, indent=2))
        return 0
    problems = []
    unknown = [s for s in args.suites if s not in bench.SUITE_NAMES]
    if unknown:
        problems.append(f"unknown suite(s) {', '.join(unknown)}; expected some of {', '.join(bench.SUITE_NAMES)}")
    if args.json and (why := _writable_file(args.json)):
        problems.append(why)
    if args.plots:
        try:
            require_matplotlib()
        except ImportError as exc:
            problems.append(f"--plots: {exc}")
        else:
            if why := _plots_dir(args.plots):
                problems.append(why)
    saved = None
    if args.compare:
        try:
            saved = bench.BenchResults.from_json(Path(args.compare))
        except bench.BenchFormatError as exc:
            problems.append(f"--compare: {exc}")
    if problems:
        parser.error("; ".join(problems))  # prints "error: ..." and exits with status 2
    try:
        results = bench.run(
            args.suites or None,
            backend=args.backend,
            quick=args.quick,
            progress=not args.quiet,
            fake=False if args.no_fake else None,
        )
    except AneUnavailableError as exc:
        parser.error(str(exc))
    print(results.table())
    if args.json:
        results.to_json(args.json)
        print(f"wrote {args.json}")
    if args.plots:
        figures = results.plot(args.plots)
        print(f"wrote {len(figures)} plot(s) to {args.plots}: {', '.join(f'{name}.png' for name in figures)}")
    if saved is not None:
        print()
        print(results.compare(saved))
    return 1 if results.flagged_rows() else 0
