"""``anekit explain RULE``: print a validator rule's documentation entry (works offline).

RULE is the id in brackets in ``anekit check``'s output (``ane-io-dtype``). The entry comes from the copy of
the rules page shipped inside the package; its last lines are links to the online documentation.
"""

from __future__ import annotations

import argparse
from typing import Any

from ._cli_common import CliError


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "explain", help="print what a validator rule checks, why it matters on the ANE and what to do"
    )
    p.add_argument("rule", help="a rule id as printed by `anekit check`, e.g. ane-io-dtype")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .errors import MILError
    from .mil.validate.explain import explain

    try:
        print(explain(args.rule))
    except MILError as exc:
        raise CliError(str(exc), hint="rule ids are the names in brackets in `anekit check` output") from None
    return 0
