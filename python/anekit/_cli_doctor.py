"""``python -m anekit doctor [--json] [--budget] [--fake] [--no-save]``."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("doctor", help="probe this machine's ANE and save what it finds")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--budget", action="store_true", help="also count how many compiles a process gets (slow)")
    p.add_argument("--fake", action="store_true", help="probe the bundled fake framework even on macOS")
    p.add_argument("--no-save", action="store_true", help="do not save the report")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .doctor import doctor

    report = doctor(budget=args.budget, save=not args.no_save, use_fake=True if args.fake else None)
    print(json.dumps(report.to_dict(), indent=2, default=str) if args.json else report.format())
    return 0 if report.healthy else 1
