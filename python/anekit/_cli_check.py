"""``anekit check PATH [--target ane|any] [-v] [--json]``: validate MIL programs and summarise them.

PATH is a ``model.mil`` file (any ``*.mil`` file), a ``.mlmodelc``-style folder holding ``model.mil``, or a
folder of those (every ``*.mil`` file below it is checked, at any depth). Diagnostics are printed grouped by
severity with their location, hint and a link to the rule's documentation (once per rule), then the program
summary, and a folder ends with a tally of the programs and findings. Infos that call for no action are
counted but only printed with ``-v``/``--verbose``. ``--json`` prints one object
``{"target", "ok", "programs": [{"path", "ok", "parse_error", "diagnostics", "counts", "hidden", "summary"}]}``;
each diagnostic carries its ``link`` and ``needs_action``.
Exit status: 0 when no program has an error, 1 when one has (a parse failure counts as an error), 2 when PATH
holds no MIL program.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ._cli_common import SHAPES_HELP, CliError, load_program, parse_shapes


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "check", help="validate MIL programs (structure and ANE rules) and summarise them"
    )
    p.add_argument(
        "path", nargs="?", help="model.mil file, .mlmodelc folder, or a folder searched for .mil files at any depth"
    )
    p.add_argument(
        "--target",
        choices=("ane", "any"),
        default="ane",
        help="'ane' (default): structural and Neural Engine rules; 'any': structural rules only",
    )
    p.add_argument(
        "-v", "--verbose", action="store_true", help="also show the infos that call for no action (hidden by default)"
    )
    p.add_argument("--shapes", metavar="SHAPES", help=SHAPES_HELP)
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--no-summary", action="store_true", help="print the diagnostics only, not the summary")
    p.add_argument(
        "--list-rules", action="store_true", help="list the rules for --target with their sources, then exit"
    )
    p.set_defaults(func=run)


def find_programs(path: Path) -> list[Path]:
    """The MIL files PATH designates (see the module docstring), sorted; empty if none."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        return []
    if (path / "model.mil").is_file():
        return [path / "model.mil"]
    return sorted(p for p in path.rglob("*.mil") if p.is_file())


def tally(results: list[dict[str, Any]]) -> str:
    """One line: how many programs passed and failed, and the findings by severity over all of them."""
    from .mil.diagnostics import SEVERITIES

    failed = sum(1 for r in results if _has_error(r))
    unparsed = sum(1 for r in results if r["parse_error"] is not None)
    counts = {s: sum(1 for r in results for d in r["diagnostics"] if d.severity == s) for s in SEVERITIES}
    n = len(results)
    findings = ", ".join(f"{c} {s}{'s' if c != 1 else ''}" for s, c in counts.items())
    parse = f" ({unparsed} did not parse)" if unparsed else ""
    hidden = sum(r["diagnostics"].hidden for r in results)
    quiet = f" ({hidden} more infos hidden, -v shows them)" if hidden else ""
    return f"checked {n} program{'s' if n != 1 else ''}: {n - failed} ok, {failed} failed{parse}; {findings}{quiet}"


def _failed(mil_file: Path, message: str, line: int, col: int, shown: str) -> dict[str, Any]:
    from .mil.diagnostics import Diagnostics

    return {
        "path": str(mil_file),
        "parse_error": {"message": message, "line": line, "col": col},
        "text_error": shown,
        "diagnostics": Diagnostics(),
        "summary": None,
    }


def _check_one(mil_file: Path, target: str, verbose: bool = False, shapes: str | None = None) -> dict[str, Any]:
    from .errors import MILError, MILParseError
    from .mil import parse
    from .mil.analysis.summary import summarize
    from .mil.passes import pin_shapes
    from .mil.text.parser import read_mil_text
    from .mil.validate import validate

    text: str | None = None
    try:
        if mil_file.suffix.lower() in (".mlpackage", ".mlmodel"):
            program = load_program(str(mil_file), shapes)  # a Core ML protobuf: no MIL text to check
        else:
            text = read_mil_text(mil_file)
            # Weights resolve like mil.load(): the file's folder stands for @model_path (read lazily).
            program = parse(text, weights=mil_file.parent)
            pins = parse_shapes(shapes)
            if pins is not None:
                pin_shapes(program, pins)
    except MILParseError as exc:
        return _failed(mil_file, exc.message, exc.line, exc.col, str(exc))
    except (MILError, OSError) as exc:
        return _failed(mil_file, str(exc), 0, 0, str(exc))
    return {
        "path": str(mil_file),
        "parse_error": None,
        "diagnostics": validate(program, target, text=text, verbose=verbose),
        "summary": summarize(program),
    }


def _has_error(result: dict[str, Any]) -> bool:
    return result["parse_error"] is not None or any(d.severity == "error" for d in result["diagnostics"])


def _as_json(result: dict[str, Any]) -> dict[str, Any]:
    from dataclasses import asdict

    return {
        "path": result["path"],
        "ok": not _has_error(result),
        "parse_error": result["parse_error"],
        "diagnostics": [{**asdict(d), "link": d.link} for d in result["diagnostics"]],
        "counts": result["diagnostics"].counts(),
        "hidden": result["diagnostics"].hidden,
        "summary": None if result["summary"] is None else result["summary"].to_dict(),
    }


def list_rules(target: str, as_json: bool) -> str:
    """The rules that run for ``target``: id, default severity, what is checked and the link to its entry.

    JSON also carries ``source``, where the fact comes from (for maintainers; the entry cites it publicly).
    """
    from .mil.diagnostics import rule_url
    from .mil.validate import rules

    chosen = rules(target)
    if as_json:
        keys = ("id", "severity", "target", "summary", "needs_action", "source")
        return json.dumps([{**{k: getattr(r, k) for k in keys}, "link": rule_url(r.id)} for r in chosen], indent=2)
    lines = []
    for r in chosen:
        quiet = "" if r.needs_action else ", shown with -v"
        lines.append(f"{r.id} [{r.severity}{quiet}, target {r.target}]: {r.summary}")
        lines.append(f"    more: {rule_url(r.id)}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.list_rules:
        print(list_rules(args.target, args.json))
        return 0
    if args.path is None:
        raise CliError("no PATH given", hint="`anekit check PATH` checks a model; `--list-rules` lists the rules")
    path = Path(args.path)
    if path.suffix.lower() in (".mlpackage", ".mlmodel"):
        if not path.exists():
            raise CliError(f"{path} does not exist", hint="give an .mlpackage folder or an .mlmodel file")
        files = [path]
    else:
        files = find_programs(path)
    if not files:
        message = f"no MIL program at {args.path} (expected a .mil file or a folder with .mil files in it)"
        if args.json:
            print(json.dumps({"error": message}))
            return 2
        raise CliError(message, hint="point at a model.mil file, a .mlmodelc folder, or a folder of those")
    results = [_check_one(f, args.target, args.verbose, args.shapes) for f in files]
    if args.json:
        payload = {
            "target": args.target,
            "ok": not any(_has_error(r) for r in results),
            "programs": [_as_json(r) for r in results],
        }
        print(json.dumps(payload, indent=2))
    else:
        for i, r in enumerate(results):
            if i:
                print()
            status = "FAILED" if _has_error(r) else "ok"
            print(f"== {r['path']} (target {args.target}): {status}")
            if r["parse_error"] is not None:
                print(f"parse error: {r['text_error']}")
                continue
            print(r["diagnostics"])
            if not args.no_summary:
                print()
                print(r["summary"].to_text())
        if len(results) > 1:
            print()
            print(tally(results))
    return 1 if any(_has_error(r) for r in results) else 0
