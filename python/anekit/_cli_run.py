"""``anekit run MODEL --input NAME=FILE.npy ... [--output DIR]``: run a model on inputs from files.

Each ``--input`` names one input of the function and a ``.npy`` file holding its array (any real dtype; the
input's shape, ``(C, S)`` for a ``[1, C, 1, S]`` input, or a shape that broadcasts to it). Outputs are written
to ``DIR/<output name>.npy`` when ``--output`` is given; a line per output (shape, dtype, range) is printed
either way.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._cli_common import SHAPES_HELP, CliError


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "run",
        help="run a MIL program on inputs read from .npy files and save its outputs",
        description="Run MODEL on the best usable backend (or --backend) with inputs read from .npy files.",
    )
    p.add_argument(
        "path",
        metavar="MODEL",
        help="a model.mil file, a .mlmodelc-style folder (model.mil + weights/), an .mlpackage or an .mlmodel",
    )
    p.add_argument(
        "--input",
        "-i",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="an input and the .npy file holding it; repeat for every input of the function",
    )
    p.add_argument("--output", "-o", metavar="DIR", help="folder to write each output to as <name>.npy")
    p.add_argument(
        "--backend",
        choices=("ane", "reference", "best"),
        default="best",
        help="backend to run on: the ANE, the reference executor, or the best usable one (default)",
    )
    p.add_argument("--function", default="main", help="function of the program to run (default main)")
    p.add_argument("--shapes", metavar="SHAPES", help=SHAPES_HELP)
    p.set_defaults(func=run)


def parse_inputs(specs: list[str]) -> dict[str, Path]:
    """``["x=a.npy", ...]`` -> ``{"x": Path("a.npy")}``.

    Raises:
        CliError: an item without ``=``, an empty name, or a name given twice.
    """
    found: dict[str, Path] = {}
    for item in specs:
        name, sep, file = item.partition("=")
        if not sep or not name or not file:
            raise CliError(f"--input {item!r} is not NAME=FILE", hint="e.g. --input x=x.npy")
        if name in found:
            raise CliError(f"--input {name} is given twice", hint="give each input once")
        found[name] = Path(file)
    return found


def _read_array(name: str, file: Path) -> Any:
    import numpy as np

    if not file.is_file():
        raise CliError(f"--input {name}: {file} does not exist", hint="give the path of a .npy file")
    try:
        return np.load(file, allow_pickle=False)
    except ValueError as exc:  # not .npy, or an object array (pickles are refused: they can run code)
        raise CliError(
            f"--input {name}: {file} is not a numeric .npy array ({exc})",
            hint="save the array with numpy.save(path, array)",
        ) from None


def run(args: argparse.Namespace) -> int:
    import numpy as np

    import anekit

    from ._cli_common import load_program
    from .runtime.signature import function_io

    program = load_program(args.path, args.shapes)
    files = parse_inputs(args.input)
    specs, _ = function_io(program, args.function)
    expected = {s.name: s for s in specs}
    missing = [n for n in expected if n not in files]
    extra = sorted(set(files) - set(expected))
    if missing or extra:
        takes = ", ".join(f"{s.name}: {s.type}" for s in specs)
        problems = "; ".join(
            x for x in (f"missing {missing}" if missing else "", f"unexpected {extra}" if extra else "") if x
        )
        raise CliError(
            f"{args.function} takes inputs ({takes}); {problems}",
            hint="give every input as --input NAME=FILE.npy",
        )
    feeds = {name: _read_array(name, files[name]) for name in expected}
    out_dir = Path(args.output) if args.output else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    with anekit.compile(program, backend=None if args.backend == "best" else args.backend, function=args.function) as k:
        results = k(feeds)
        backend = k.backend
    print(f"ran {args.function} on the {backend} backend")
    for name, value in results.items():
        line = f"  {name}: shape {list(value.shape)}, {value.dtype}"
        if value.size and value.dtype.kind in "fiu":
            line += f", min {float(np.min(value)):.4g}, max {float(np.max(value)):.4g}"
        if out_dir is not None:
            target = out_dir / f"{name}.npy"
            np.save(target, value)
            line += f" -> {target}"
        print(line)
    return 0
