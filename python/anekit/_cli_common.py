"""What every ``anekit`` subcommand shares: the CLI's own error type, error reporting and model loading.

Every failure reaches the user as ``error: <cause>`` and ``hint: <what to do>`` with exit status 2 (see
:func:`report_error`); a traceback is printed only with ``anekit --traceback``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from .errors import (
    AnekitError,
    AneUnavailableError,
    CompileBudgetExceeded,
    CompileError,
    EvaluateError,
    MILError,
    MILParseError,
)

if TYPE_CHECKING:
    from .mil.ir import Program

__all__ = ["EXIT_USAGE", "SHAPES_HELP", "CliError", "hint_for", "load_program", "parse_shapes", "report_error"]

#: Exit status of every failure that is not a verdict (bad arguments, unreadable model, unusable backend).
EXIT_USAGE = 2


class CliError(AnekitError, ValueError):
    """A command-line failure with a hint saying what to do about it."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


def hint_for(exc: BaseException, command: str | None) -> str:
    """What to do about ``exc``, raised by subcommand ``command`` (most specific exception type first)."""
    given = getattr(exc, "hint", "")
    if given:
        return str(given)
    help_cmd = f"anekit {command} --help" if command else "anekit --help"
    if isinstance(exc, AneUnavailableError):
        return (
            "the ANE backend needs macOS with AppleNeuralEngine.framework; `anekit info` says what is missing, "
            "and `--backend reference` (or `best`) runs on the CPU reference executor instead"
        )
    if isinstance(exc, CompileBudgetExceeded):
        return "a process gets a limited number of ANE compiles; see `anekit info` and anekit.budget for the policies"
    if isinstance(exc, MILParseError):
        return "the file is not MIL text anekit can parse; the line and column above point at the problem"
    if isinstance(exc, MILError):
        return "`anekit check PATH` lists every finding about the program, with hints"
    if isinstance(exc, CompileError):
        return "the backend rejected the program; `anekit check PATH` checks it against the known ANE rules"
    if isinstance(exc, EvaluateError):
        return "the backend failed while running the program; `anekit doctor` probes what this machine supports"
    if isinstance(exc, OSError):
        return "check that the path exists and is readable"
    if isinstance(exc, (ValueError, TypeError)):
        return f"`{help_cmd}` lists the arguments and what they accept"
    return "this is a bug in anekit: rerun with `anekit --traceback ...` and report the traceback"


def report_error(exc: BaseException, command: str | None, stream: TextIO | None = None) -> int:
    """Print ``error: ...`` and ``hint: ...`` for ``exc`` and return the exit status (:data:`EXIT_USAGE`)."""
    out = sys.stderr if stream is None else stream
    expected = isinstance(exc, (AnekitError, OSError, ValueError, TypeError))
    cause = str(exc) or type(exc).__name__
    if not expected:  # an exception anekit did not mean to raise: name its type, it is the useful part
        cause = f"internal error: {type(exc).__name__}: {cause}"
    prefix = f"anekit {command}: " if command else "anekit: "
    print(f"error: {prefix}{cause}", file=out)
    print(f"hint: {hint_for(exc, command)}", file=out)
    return EXIT_USAGE


#: ``--shapes`` help, shared by the subcommands that load a model.
SHAPES_HELP = (
    "pin flexible inputs: 'x=1,128;mask=1,128', 'default' (the model's default shapes), or an index / key of "
    "one of its enumerated shape sets"
)


def parse_shapes(text: str | None) -> dict[str, tuple[int, ...]] | str | int | None:
    """The ``--shapes`` option as :func:`anekit.mil.load` takes it (None when not given).

    Raises:
        CliError: a malformed option (the message quotes the part that is wrong).
    """
    if text is None:
        return None
    text = text.strip()
    if text.isdigit():
        return int(text)
    if "=" not in text:
        return text  # "default" or an enumerated shape key; mil.load says if it is neither
    shapes: dict[str, tuple[int, ...]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, sep, dims = part.partition("=")
        try:
            shape = tuple(int(d) for d in dims.replace("x", ",").split(","))
        except ValueError:
            shape = ()
        if not sep or not name.strip() or not shape:
            raise CliError(f"--shapes: cannot read {part!r}", hint="write NAME=D0,D1,... separated by ';'")
        shapes[name.strip()] = shape
    return shapes


def load_program(path_text: str, shapes: str | None = None) -> Program:
    """The program at ``path_text``: a ``.mil`` file (weights beside it), a ``.mlmodelc``-style folder, an
    ``.mlpackage`` folder or an ``.mlmodel`` file; ``shapes`` is the ``--shapes`` option.

    Raises:
        CliError: the path does not exist, or is a model format anekit does not read (with a hint).
        MILError: the model is invalid, or the shapes do not fit it.
    """
    from . import mil
    from .mil.text.parser import read_mil_text

    path = Path(path_text)
    suffix = path.suffix.lower()
    pins = parse_shapes(shapes)
    if suffix in (".mlpackage", ".mlmodel"):
        if not path.exists():
            raise CliError(f"{path} does not exist", hint="give an .mlpackage folder or an .mlmodel file")
        return mil.load(path, shapes=pins)
    if not path.exists():
        raise CliError(f"{path} does not exist", hint="give a model.mil file or a .mlmodelc folder")
    mil_file = path / "model.mil" if path.is_dir() else path
    if not mil_file.is_file():
        raise CliError(
            f"{path} is a folder without model.mil",
            hint="give a .mlmodelc folder (model.mil + weights/) or a .mil file; `anekit check` takes "
            "folders of models",
        )
    text = read_mil_text(mil_file)  # a non-UTF-8 file is a MILParseError naming it
    # Running needs the weight data; say so before a run fails on the first weight it reads. `check` does not
    # use this function: it summarises and validates weight-less bundles from declared types alone.
    if "@model_path/weights/" in text and not (mil_file.parent / "weights").is_dir():
        raise CliError(
            f"{mil_file} reads its weights from @model_path/weights/ but there is no weights/ folder beside it",
            hint="copy the whole .mlmodelc folder (model.mil and weights/); `anekit check` works without weights",
        )
    # BLOBFILE paths resolve beside the MIL file, as mil.load does for a folder.
    program = mil.parse(text, weights=mil_file.parent)
    if pins is not None:
        mil.passes.pin_shapes(program, pins)
    return program
