"""``python -m anekit doctor [--json | -v] [--report FILE] [--budget] [--no-ops | --ops OP...] [--fake]``."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("doctor", help="probe this machine's ANE and save what it finds")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--verbose", "-v", action="store_true", help="print every probe with its evidence")
    p.add_argument(
        "--report", metavar="FILE", help="also write the whole report (device, probes, evidence) to FILE as JSON"
    )
    p.add_argument("--budget", action="store_true", help="also count how many compiles a process gets (slow)")
    p.add_argument("--no-ops", action="store_true", help="skip the op support matrix (one compile per MIL op)")
    p.add_argument("--ops", nargs="+", metavar="OP", help="build the op support matrix for these ops only")
    p.add_argument("--fake", action="store_true", help="probe the bundled fake framework even on macOS")
    p.add_argument("--no-save", action="store_true", help="do not save the report")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Errors propagate to the CLI's one error handler (``__main__``: ``error:`` / ``hint:`` lines, status 2)."""
    from ._cli_common import CliError
    from .doctor import run as run_doctor

    if args.no_ops and args.ops:
        raise CliError("--ops and --no-ops contradict each other", hint="give one of them")
    ops: bool | list[str] = False if args.no_ops else (args.ops or True)
    report = run_doctor(ops=ops, budget=args.budget, save=not args.no_save, use_fake=True if args.fake else None)
    if args.report:
        path = report.save(args.report)
        written = f"report written to {path} (attach it to a bug report)"
    else:
        written = ""
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        print(report.format() if args.verbose else report.summary())
        if written:
            print(written)
    return 0 if report.healthy else 1
